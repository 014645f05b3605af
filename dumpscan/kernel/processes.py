"""The process list: ``nt!PsActiveProcessHead`` -> _EPROCESS.ActiveProcessLinks, bounded
and cycle-safe (``lists.walk_list``); each process's PID, parent PID and ImageFileName,
read through the ISF. Per-process pool quota would come from the _EPROCESS_QUOTA_BLOCK
behind QuotaBlock, but the public kernel symbols describe no such type: the reader says
so instead of guessing offsets."""
from __future__ import annotations

from dataclasses import dataclass

from .common import member, value_of
from .lists import walk_list
from .view import KernelView, MemoryAbsent

MAX_PROCESSES = 1 << 16


@dataclass(frozen=True)
class ProcessRecord:
    address: int  # the _EPROCESS
    pid: int
    ppid: int
    name: str


@dataclass(frozen=True)
class ProcessList:
    processes: tuple[ProcessRecord, ...]
    complete: bool
    quota_layout: bool  # the symbols describe _EPROCESS_QUOTA_BLOCK
    warnings: tuple[str, ...]


def read_processes(view: KernelView) -> ProcessList:
    links_off, _ = member(view, "_EPROCESS", "ActiveProcessLinks")
    fields = {name: member(view, "_EPROCESS", name)
              for name in ("UniqueProcessId", "InheritedFromUniqueProcessId", "ImageFileName")}
    walk = walk_list(view, view.symbol("PsActiveProcessHead"), "PsActiveProcessHead", MAX_PROCESSES)
    warnings = list(walk.warnings)
    span = max(offset + found.size for offset, found in fields.values())
    records = []
    for link in walk.items:
        address = view.canonical(link - links_off)
        try:
            data = view.read(address, span)
        except MemoryAbsent:
            warnings.append(f"process list: _EPROCESS {address:#x} absent from the dump; skipped")
            continue
        name_off, name_member = fields["ImageFileName"]
        raw = data[name_off:name_off + name_member.size]
        records.append(ProcessRecord(
            address, value_of(data, *fields["UniqueProcessId"]),
            value_of(data, *fields["InheritedFromUniqueProcessId"]),
            raw.split(b"\0", 1)[0].decode("latin-1")))
    quota = view.has_type("_EPROCESS_QUOTA_BLOCK")
    return ProcessList(tuple(records), walk.complete, quota, tuple(warnings))
