"""The bundled scenarios (testdata/dumps/NAME.dmp + NAME.truth.json).

myfault.sys is Sysinternals NotMyFault's driver. Its x86 function addresses are
those of the Driver Verifier article in ../shared/seeds (loaded at 0x98725000:
PoolLeak+0x21 = 0x98726659, MyfaultDeviceControl+0x13f = 0x98726ab3,
MyfaultDispatch+0x5c = 0x98726b26, FreePoolLeak+0x33 = 0x987266bb); its x64 layout
puts the PoolHitTag article's return addresses myfault+0x1634 and myfault+0x1727
inside PoolLeak and MyfaultDeviceControl. Its symbol table is the scenario's own
(a stand-in for myfault.pdb; GUIDs chosen). The other drivers ship no symbols.
"""
from __future__ import annotations

from dataclasses import replace

from .scenario import Allocate, Driver, Noise, Scenario, Site

MYFAULT_X86 = Driver(
    "myfault.sys", 0x6000, tags=("Leak",), verified=True, base=0x98725000,
    functions={"DriverEntry": 0x1000, "PoolLeak": 0x1638, "FreePoolLeak": 0x1688,
               "MyfaultDeviceControl": 0x1974, "MyfaultDispatch": 0x1ACA},
    pdb="myfault.pdb", guid="5D1B0C4E7A2F4E8C9B3D6A1F0E2C4B86")
MYFAULT_X64 = Driver(
    "myfault.sys", 0x7000, tags=("Leak", "Lea2"),
    functions={"PoolLeak": 0x1610, "FreePoolLeak": 0x1650, "MyfaultDeviceControl": 0x16A0,
               "MyfaultDispatch": 0x1900, "DriverEntry": 0x1A00},
    pdb="myfault.pdb", guid="8E4F2A1C3B5D4F6E9A7C0B2D1E3F5A48")
SYSTEM_DRIVERS = (
    Driver("Ntfs.sys", 0x2D5000, tags=("NtFs", "Ntfx", "NtfF")),
    Driver("tcpip.sys", 0x2A6000, tags=("TcpE", "TcpR")),
    Driver("NDIS.SYS", 0x134000, tags=("NDnd", "NDoa")),
    Driver("FLTMGR.SYS", 0x7C000, tags=("FMfc", "FMsl")),
)
LITWARE = Driver("litware.sys", 0xC000, tags=("Litw", "LitB"), verified=True, loaded=False,
                 unloaded=True)
CONTOSO = Driver("contoso.sys", 0x9000, tags=("Cnts", "CnBf"), verified=True)
FABRIKAM = Driver("fabrikam.sys", 0x5000, verified=True, loaded=False)

LEAK_SITE_X86 = Site("myfault.sys", "PoolLeak", 0x21)
FREE_SITE_X86 = Site("myfault.sys", "FreePoolLeak", 0x33)
LEAK_SITE_X64 = Site("myfault.sys", "PoolLeak", 0x24)
FREE_SITE_X64 = Site("myfault.sys", "FreePoolLeak", 0x33)
LEAK_1000K = 1000 * 1024  # NotMyFault's 1000 KB leak per click (article: 0xfa000)
POOL_TRACKING = 0x8  # Driver Verifier "Pool tracking" flag [V S12]
DAY_100NS = 86400 * 10_000_000  # a day in FILETIME units


def _verifier_workload(leaks: int) -> tuple[Allocate, ...]:
    """myfault leaks 1000 KB paged blocks (one allocated and freed first, so its
    address shows an allocate-free-allocate history); contoso churns small blocks
    (wrapping the trace ring) and keeps a few."""
    return (
        Allocate(LEAK_SITE_X64, "Leak", LEAK_1000K, paged=True, free_site=FREE_SITE_X64),
        Allocate(LEAK_SITE_X64, "Leak", LEAK_1000K, paged=True, count=leaks),
        Allocate(Site("contoso.sys", "", 0x2A4F), "Cnts", 0x48, paged=False, count=700,
                 free_site=Site("contoso.sys", "", 0x2B90)),
        Allocate(Site("contoso.sys", "", 0x31C6), "CnBf", 0x180, paged=False, count=25),
        Allocate(Site("contoso.sys", "", 0x33E0), "CnBf", 0x2400, paged=True, count=3),
    )


def _x64_verifier(name: str, platform: str, dump_type: int, signature: str | None,
                  seed: int) -> Scenario:
    return Scenario(
        name=name, platform=platform, dump_type=dump_type, summary_signature=signature,
        description=f"NotMyFault paged leak under Driver Verifier pool tracking ({platform})",
        seed=seed, processors=4,
        drivers=SYSTEM_DRIVERS + (replace(MYFAULT_X64, verified=True), CONTOSO, FABRIKAM),
        verifier_level=0x209BB,  # the standard settings, pool tracking included [V S12]
        workload=_verifier_workload(10), noise=Noise(tags=270, big_blocks=80),
        tag_table_bits=8)


def _x64_plain(name: str, platform: str, dump_type: int, signature: str | None, seed: int,
               leaks: int = 10, uptime_days: int = 3) -> Scenario:
    """A leak without Driver Verifier; the machine booted three days before the
    default crash time, so ``uptime_days`` also moves the crash time."""
    boot = Scenario.system_time - 3 * DAY_100NS
    return Scenario(
        name=name, platform=platform, dump_type=dump_type, summary_signature=signature,
        description=f"NotMyFault paged leak, Driver Verifier off ({platform})",
        seed=seed, processors=2, drivers=SYSTEM_DRIVERS + (MYFAULT_X64,),
        workload=(Allocate(LEAK_SITE_X64, "Leak", LEAK_1000K, paged=True, count=leaks),),
        noise=Noise(tags=150, big_blocks=50), uptime_seconds=uptime_days * 86400,
        system_time=boot + uptime_days * DAY_100NS)


SCENARIOS: dict[str, Scenario] = {}


def _add(scenario: Scenario) -> None:
    SCENARIOS[scenario.name] = scenario


_add(Scenario(
    name="win81-x86-verifier", platform="win81-x86", dump_type=1,
    description="The Driver Verifier article: ten 1000 KB paged 'Leak' blocks from "
                "myfault!PoolLeak+0x21 on Windows 8.1 x86, pool tracking on",
    seed=81, processors=2, drivers=SYSTEM_DRIVERS + (MYFAULT_X86,),
    verifier_level=POOL_TRACKING, trace_length=0x10000,
    workload=(Allocate(LEAK_SITE_X86, "Leak", LEAK_1000K, paged=True, free_site=FREE_SITE_X86),
              Allocate(LEAK_SITE_X86, "Leak", LEAK_1000K, paged=True, count=10)),
    noise=Noise(tags=120, big_blocks=40),
    verifier_stats={"RaiseIrqls": 0, "AcquireSpinLocks": 0, "SynchronizeExecutions": 0,
                    "Trims": 0, "AllocationsSucceededSpecialPool": 0xA,
                    "AllocationsWithNoTag": 0x1, "AllocationsFailed": 0}))
_add(Scenario(
    name="win7-x64-poolhittag", platform="win7-x64", dump_type=1,
    description="The PoolHitTag article: PoolHitTag = 'Lea2', the system broke inside the "
                "big-pool allocator with no debugger attached (bug check 0x1E)",
    seed=7, processors=2, drivers=SYSTEM_DRIVERS + (MYFAULT_X64,),
    workload=(Allocate(LEAK_SITE_X64, "Lea2", LEAK_1000K, paged=False, count=12),),
    pool_hit_tag="Lea2", crash="poolhittag", noise=Noise(tags=140, big_blocks=50)))
_add(_x64_verifier("win10-x64-verifier-full", "win10-x64", 1, None, 10))
_add(_x64_verifier("win10-x64-verifier-bitmap", "win10-x64", 5, "FDMP", 10))
_add(_x64_verifier("win11-x64-verifier-full", "win11-x64", 1, None, 11))
_add(_x64_verifier("win11-x64-verifier-bitmap", "win11-x64", 5, "FDMP", 11))
_add(_x64_plain("win10-x64-kernel-sdmp", "win10-x64", 5, "SDMP", 12))
_add(_x64_plain("win10-x64-live-kernel", "win10-x64", 6, "SDMP", 13))
_add(_x64_plain("win10-x64-rdmp-kernel", "win10-x64", 8, None, 14))
_add(_x64_verifier("win11-24h2-x64-verifier", "win11-24h2-x64", 5, "FDMP", 24))
_add(Scenario(
    name="win10-x64-verifier-unload", platform="win10-x64", dump_type=5, summary_signature="SDMP",
    description="A verified driver unloaded with pool outstanding: Driver Verifier's leak bug "
                "check 0xC4/0x62, written as an automatic (kernel) dump",
    seed=62, processors=2, drivers=SYSTEM_DRIVERS + (LITWARE,),
    verifier_level=POOL_TRACKING,
    workload=(Allocate(Site("litware.sys", "", 0x1F3A), "Litw", 0x200, paged=False, count=40),
              Allocate(Site("litware.sys", "", 0x2210), "LitB", 0x3000, paged=True, count=5),
              Allocate(Site("litware.sys", "", 0x1F3A), "Litw", 0x200, paged=False, count=60,
                       free_site=Site("litware.sys", "", 0x2C84))),
    crash="verifier-unload", noise=Noise(tags=150, big_blocks=50)))
_add(Scenario(
    name="win10-x64-two-leaks", platform="win10-x64", dump_type=5, summary_signature="SDMP",
    description="Two leaks of one severity: 14 paged 1000 KB 'Leak' blocks (more bytes) and 44 "
                "nonpaged 256 KB 'Lea2' blocks (more allocations), Driver Verifier off",
    seed=20, processors=2, drivers=SYSTEM_DRIVERS + (MYFAULT_X64,),
    workload=(Allocate(LEAK_SITE_X64, "Leak", LEAK_1000K, paged=True, count=14),
              Allocate(Site("myfault.sys", "PoolLeak", 0x2E), "Lea2", 0x40000, paged=False, count=44)),
    noise=Noise(tags=150, big_blocks=50)))
_add(Scenario(
    name="win10-x64-triage-c4", platform="win10-x64", dump_type=4,
    description="What Windows writes by default: a triage (small memory) dump of NotMyFault's "
                "driver unloading with pool outstanding under Driver Verifier, bug check 0xC4/0x62",
    seed=64, processors=2,
    drivers=SYSTEM_DRIVERS + (replace(MYFAULT_X64, verified=True, loaded=False, unloaded=True),),
    verifier_level=POOL_TRACKING,
    workload=(Allocate(LEAK_SITE_X64, "Leak", LEAK_1000K, paged=True, count=3),),
    crash="verifier-unload", noise=Noise(tags=60, big_blocks=20)))
for _step, (_leaks, _days) in enumerate(((4, 1), (12, 2), (24, 3))):
    _add(_x64_plain(f"win10-x64-series-t{_step}", "win10-x64", 5, "FDMP", 99,
                    leaks=_leaks, uptime_days=_days))


def large_scenario(big_entries: int = 1_000_000, tracked: int = 100_000,
                   physical_gib: int = 16, small_blocks: int = 0) -> Scenario:
    """A benchmark machine: ``physical_gib`` GiB of RAM (a sparse kernel bitmap dump),
    ``big_entries`` big-pool blocks, ``tracked`` verifier-tracked allocations and
    ``small_blocks`` more small (LFH) blocks."""
    table = 1 << max(10, (2 * big_entries).bit_length())
    return Scenario(
        name=f"large-win10-x64-{big_entries}-{tracked}" + (f"-{small_blocks}" if small_blocks else ""),
        platform="win10-x64", dump_type=5,
        summary_signature="SDMP",
        description=f"{physical_gib} GiB machine, {big_entries} big-pool blocks, "
                    f"{tracked} tracked allocations (benchmark)",
        seed=1000, processors=8,
        drivers=SYSTEM_DRIVERS + (replace(MYFAULT_X64, verified=True), CONTOSO),
        verifier_level=0x209BB, trace_length=0x10000,
        workload=(Allocate(LEAK_SITE_X64, "Leak", LEAK_1000K, paged=True, count=10),
                  Allocate(Site("contoso.sys", "", 0x31C6), "CnBf", 0x40, paged=False,
                           count=tracked)),
        noise=Noise(tags=400, big_blocks=100, bulk_big_blocks=big_entries,
                    bulk_small_blocks=small_blocks),
        big_table_size=table, tag_table_bits=12, physical_gib=physical_gib)
