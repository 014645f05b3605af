"""The report of a triage ("small memory", DumpType 4) dump: what it is, what it says.

A triage dump is what Windows writes by default.  It holds the bug check, the crashing
context and the list of loaded drivers, but no physical memory: no pool tables, so no
pool analysis.  The report says so plainly, names the setting that gives a kernel memory
dump next time, and is a valid ``dumpscan.report/1`` document (``dump.kind`` is
``"triage"``, ``kernel`` is null, the pool sections are empty, ``triage`` holds what the
dump says; docs/report-schema.md).  Not an error: the CLI exits 0.
"""
from __future__ import annotations

from pathlib import Path

from ..dumpfile import DumpFormatError, is_triage_dump, open_triage
from ..dumpfile.headers import DUMP_TYPE_NAMES
from ..report.schema import SCHEMA_ID
from ..vol.errors import NotAKernelDump

__all__ = ["KERNEL_DUMP_SETTING", "NO_POOL_DATA", "is_triage_dump", "triage_report"]

KERNEL_DUMP_SETTING = ("Control Panel > System > Advanced system settings > Startup and Recovery > "
                       "Write debugging information: Kernel memory dump (CrashDumpEnabled = 2 under "
                       "HKLM\\SYSTEM\\CurrentControlSet\\Control\\CrashControl)")
NO_POOL_DATA = ("a small memory (triage) dump holds no physical memory, hence no pool tables: no pool "
                "analysis is possible. For a kernel memory dump next time set " + KERNEL_DUMP_SETTING)

# Bug check 0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION, the leak codes (Microsoft Learn, "Bug
# Check 0xC4" parameter table and "Debugging memory leaks - DRIVER_VERIFIER_DETECTED_VIOLATION
# (C4): 0x62"; docs/dump-format.md).
VERIFIER_LEAK_CHECKS = {
    0x60: ("a driver is unloading without first freeing its contiguous memory or pool "
           "allocations (Driver Verifier)"),
    0x62: ("a driver is unloading without first freeing all of its pool allocations: a pool "
           "leak caught by Driver Verifier's pool tracking"),
}
VERIFIER_LEAK_PARAMETERS = ("type of violation (0x{0:x})", "address of the driver's name (a UNICODE_STRING)",
                            "the driver's Driver Verifier data (reserved)",
                            "allocations not freed, paged and nonpaged together")


def triage_report(path: str | Path) -> dict:
    """The report of the triage dump at ``path``.  NotAKernelDump (one line) when it is not
    a sound one."""
    from .engine import BUGCHECK_NAMES  # one table of bug check names

    try:
        triage = open_triage(path)
    except DumpFormatError as exc:
        raise NotAKernelDump(path, exc.message) from None
    except OSError as exc:
        raise NotAKernelDump(path, f"cannot open: {exc.strerror or exc}") from None
    h = triage.header
    code = h.bugcheck_code or 0
    params = [int(p or 0) for p in (list(h.bugcheck_parameters) + [0] * 4)[:4]]
    warnings = list(triage.warnings)
    section: dict = {"pool_data": False, "bugcheck_driver": None,
                     "broken_driver": triage.broken_driver.name if triage.broken_driver else None,
                     "kernel_dump_setting": KERNEL_DUMP_SETTING,
                     "service_pack_build": triage.service_pack_build, "size_of_dump": triage.size_of_dump,
                     "triage_options": triage.triage_options, "driver_entry_size": triage.driver_entry_size,
                     "data_blocks": len(triage.data_blocks)}
    if code == 0xC4 and params[0] in VERIFIER_LEAK_CHECKS:
        section["explanation"] = VERIFIER_LEAK_CHECKS[params[0]]
        section["parameters"] = [text.format(params[0]) for text in VERIFIER_LEAK_PARAMETERS]
        name = triage.read_unicode_string(params[1])
        if name is None:
            warnings.append(f"bug check parameter 2 ({params[1]:#x}, the driver's name) is not in the dump")
        section["bugcheck_driver"] = name
        section["outstanding_allocations"] = params[3]
    warnings.append(NO_POOL_DATA)
    width = 16 if h.machine == "x64" else 8
    header = {"dump": str(path), "machine": h.machine, "dump_type": h.dump_type,
              "dump_type_name": DUMP_TYPE_NAMES[h.dump_type],
              "bugcheck": f"0x{code:08X} (" + ", ".join(f"0x{p:0{width}x}" for p in params) + ")",
              "bugcheck_name": BUGCHECK_NAMES.get(code, ""), "processors": h.number_processors,
              "build": h.minor_version, "warnings": len(warnings)}
    if h.system_up_time is not None:
        header["uptime_seconds"] = int(h.system_up_time) // 10_000_000
    return {
        "schema": SCHEMA_ID,
        "dump": {"dump_type": h.dump_type, "kind": "triage", "machine": h.machine, "dtb": h.dtb or 0,
                 "bugcheck": {"code": code, "parameters": params, "name": BUGCHECK_NAMES.get(code, "")},
                 "summary_signature": None, "pages_present": 0, "pages_covered": 0},
        "kernel": None,
        "modules": [{"name": d.name, "base": d.base, "size": d.size, "path": d.path, "timestamp": d.timestamp}
                    for d in triage.drivers],
        "bigpool": [], "tags": [], "tags_partial": [], "bigpool_by_tag": [],
        "verifier": None, "pool_hit_tag": None,
        "triage": section,
        "header": header,
        "coverage": {"tables": {}, "modules": {"listed": len(triage.drivers), "from": "triage driver list"}},
        "warnings": warnings,
    }
