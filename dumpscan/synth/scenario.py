"""Declarative scenarios: what machine, what drivers, what the pool went through.

A :class:`Scenario` names a platform, a dump format, the loaded drivers, Driver
Verifier's settings and a workload of allocation steps. ``build.build_scenario``
turns it into a dump file and its ground truth; nothing here touches bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Driver:
    """A kernel module loaded (or configured for verification) on the machine."""

    name: str  # e.g. "myfault.sys"
    image_size: int
    tags: tuple[str, ...] = ()  # tag constants its code passes to the allocator
    functions: dict[str, int] = field(default_factory=dict)  # RVA of each function
    pdb: str | None = None  # PDB name when the scenario ships its symbol table
    guid: str | None = None
    verified: bool = False
    loaded: bool = True  # in PsLoadedModuleList when the dump was written
    unloaded: bool = False  # loaded during the workload, unloaded before the crash
    base: int | None = None  # fixed load address (else the next free one)


@dataclass(frozen=True)
class Site:
    """A call site: ``module!function+offset`` (``function`` may be "" for module+offset)."""

    module: str
    function: str
    offset: int


@dataclass(frozen=True)
class Allocate:
    """``count`` allocations from one call site; optionally each freed again at once
    (``free_site``) or later (``free_later`` of them, after the whole workload)."""

    site: Site
    tag: str
    size: int
    paged: bool
    count: int = 1
    free_site: Site | None = None  # free each block right after allocating it
    path: str = "ioctl"  # which caller chain sits above the driver (stacks.py)
    nx: bool = True  # NonPagedPoolNx where the platform has it


@dataclass(frozen=True)
class Noise:
    """Background pool activity of the rest of the system (tag counters and
    big-page entries of non-verified drivers)."""

    tags: int = 120  # distinct background tags in the tag tables
    big_blocks: int = 60  # background big-pool blocks (some freed again)
    bulk_big_blocks: int = 0  # extra big-pool blocks made in bulk (benchmark dumps)
    bulk_small_blocks: int = 0  # extra small (LFH) blocks made in bulk (benchmark dumps)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    platform: str
    dump_type: int  # 1, 5, 6, 8, 9, 0xA, or 4 (triage: synth/triage.py)
    summary_signature: str | None = None  # "FDMP" / "SDMP" for bitmap dumps
    seed: int = 1
    processors: int = 2
    drivers: tuple[Driver, ...] = ()
    verifier_level: int | None = None  # MmVerifierData.Level; None = Driver Verifier off
    trace_length: int = 0x400  # VfPoolTracesLength (power of two)
    workload: tuple[Allocate, ...] = ()
    noise: Noise = Noise()
    pool_hit_tag: str | None = None
    crash: str = "notmyfault"  # or "poolhittag", or "verifier-unload" (bug check 0xC4/0x62)
    uptime_seconds: int = 3 * 24 * 3600
    system_time: int = 0x01DA_5E3F_6A0B_C000  # FILETIME of the crash
    big_table_size: int = 0x400  # PoolBigPageTableSize
    tag_table_bits: int = 9  # PoolTrackTableSize = 2**bits + 1
    verifier_stats: dict[str, int] = field(default_factory=dict)  # overrides of counters
    physical_gib: int = 0  # RAM size; 0 = just what the scenario uses (small dumps)
