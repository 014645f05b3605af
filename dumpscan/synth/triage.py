"""Write a scenario as a triage ("small memory", DumpType 4) dump, with its truth.

The simulated machine is the same as for a kernel dump; what Windows keeps of it in a
triage dump is the dump header (bug check, context, exception), the loaded-driver list
(each module's loader entry as it is in memory, its full name in the string pool) and,
as data blocks, the kernel memory the bug check's parameters point at: for 0xC4/0x62
the driver's name (parameter 2, a UNICODE_STRING) [MODEL: which memory Windows saves
with a bug check is not documented; docs/dump-format.md, DumpType 4].  No pool data.

The truth is built from the simulation (modules, names, timestamps), never by reading
the file back.
"""
from __future__ import annotations

import struct
from pathlib import Path

from ..dumpfile import headers as H
from ..dumpfile.writer import DumpSpec, TriageDriverSpec, TriageSpec, write_triage_dump
from ..report.schema import SCHEMA_ID
from .crash import CrashState
from .kernel_image import LoadedModule
from .machine import Machine

def _loader_entry_type(machine: Machine) -> str:
    return "_KLDR_DATA_TABLE_ENTRY" if machine.has("_KLDR_DATA_TABLE_ENTRY") else "_LDR_DATA_TABLE_ENTRY"


def _unicode_string(machine: Machine, va: int) -> tuple[str, int, int]:
    """(text, Length, Buffer) of a UNICODE_STRING in the machine's memory."""
    raw = machine.space.read(va, 16 if machine.ptr == 8 else 8)
    length = struct.unpack_from("<H", raw, 0)[0]
    buffer = struct.unpack_from("<Q", raw, 8)[0] if machine.ptr == 8 else struct.unpack_from("<I", raw, 4)[0]
    return machine.space.read(buffer, length).decode("utf-16-le"), length, buffer


def driver_specs(machine: Machine, modules: list[LoadedModule], timestamp: int) -> list[TriageDriverSpec]:
    """Each loaded module's loader entry as it is in memory, with the image's TimeDateStamp
    where the entry's layout has one [docs/dump-format.md], and its FullDllName."""
    entry_type = _loader_entry_type(machine)
    size = machine.packer.sizeof(entry_type)
    record = H.DRIVER_ENTRY_LDR_OFFSET[8 * machine.ptr] + size
    stamp_at = H.DRIVER_ENTRY_TIMESTAMP.get((8 * machine.ptr, record))
    full_name = machine.packer.offsetof(f"{entry_type}.FullDllName")
    specs = []
    for module in modules:
        entry = bytearray(machine.space.read(module.entry_va, size))
        if stamp_at is not None:
            at = stamp_at - H.DRIVER_ENTRY_LDR_OFFSET[8 * machine.ptr]
            entry[at:at + 4] = struct.pack("<I", timestamp)
        path = _unicode_string(machine, module.entry_va + full_name)[0]
        specs.append(TriageDriverSpec(path, bytes(entry)))
    return specs


def parameter_blocks(machine: Machine, crash: CrashState) -> tuple[list[tuple[int, bytes]], str | None]:
    """Data blocks for the bug check's parameters, and the driver they name (0xC4/0x62:
    parameter 2 is the address of the driver's name [V S12])."""
    if crash.bugcheck_code != 0xC4 or crash.parameters[0] != 0x62:
        return [], None
    name_va = crash.parameters[1]
    text, length, buffer = _unicode_string(machine, name_va)
    head = machine.space.read(name_va, 16 if machine.ptr == 8 else 8)
    return [(machine.canonical(name_va), head), (machine.canonical(buffer), machine.space.read(buffer, length))], text


def write_triage(path: Path, spec: DumpSpec, machine: Machine, modules: list[LoadedModule],
                 crash: CrashState, timestamp: int) -> dict:
    """Write the triage dump; return its truth (dumpscan.report/1, docs/report-schema.md)."""
    drivers = driver_specs(machine, modules, timestamp)
    blocks, named = parameter_blocks(machine, crash)
    write_triage_dump(path, spec, TriageSpec(tuple(drivers), tuple(blocks)))
    stamped = H.DRIVER_ENTRY_TIMESTAMP.get(
        (8 * machine.ptr, H.DRIVER_ENTRY_LDR_OFFSET[8 * machine.ptr] + machine.packer.sizeof(_loader_entry_type(machine))))
    return {
        "schema": SCHEMA_ID,
        "dump": {"dump_type": spec.dump_type, "kind": "triage", "machine": spec.machine, "dtb": spec.dtb,
                 "bugcheck": {"code": crash.bugcheck_code, "parameters": list(crash.parameters)}},
        "kernel": None,
        "modules": [{"name": m.name, "base": machine.canonical(m.base), "size": m.size,
                     "path": d.path, "timestamp": timestamp if stamped else None}
                    for m, d in zip(modules, drivers)],
        "bigpool": [],
        "tags": [],
        "verifier": None,
        "pool_hit_tag": None,
        "triage": {"pool_data": False, "bugcheck_driver": named, "broken_driver": None},
    }
