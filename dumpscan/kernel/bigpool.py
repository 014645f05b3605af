"""The big-page pool table (doc §1): ``*PoolBigPageTable`` -> ``[*PoolBigPageTableSize]``
of ``_POOL_TRACKER_BIG_PAGES``, read in bulk and decoded in one numpy pass.

Kept: every entry with Key != 0 (live ones and the stale records of freed blocks,
doc §1.3). ``va`` has the free bit (bit 0) cleared; ``free`` = that bit; ``pool_type``
is the raw PoolType member (``PoolFlags`` on builds that renamed it), masked to its
bit width (a 12-bit field on Windows 10+, a whole dword on 7/8.1);
``process_billed`` where the member exists (Windows 11). ExpPoolBigEntriesInUse is
only a plausibility check (its layout on Windows 10 is unsettled, doc §1.1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import canonical_array, columns, first_member, read_table
from .view import KernelView, MemoryAbsent

MAX_BIG_ENTRIES = 1 << 25  # 32 Mi entries (0.75-1 GiB of table): far above any real table

ENTRY_DTYPE = np.dtype([("index", "<u8"), ("va", "<u8"), ("key", "<u4"), ("pool_type", "<u4"),
                        ("bytes", "<u8"), ("free", "?"), ("process_billed", "<u8")])


@dataclass(frozen=True)
class BigPoolTable:
    address: int  # the array's VA (value of PoolBigPageTable)
    declared: int  # PoolBigPageTableSize
    requested: int  # entries read (declared, capped)
    read: int  # entries whose bytes were all present
    absent: tuple[tuple[int, int], ...]
    entries: np.ndarray  # ENTRY_DTYPE, Key != 0, table order
    in_use: int  # readable entries with Va bit 0 clear (whatever the Key)
    in_use_counter: int | None  # ExpPoolBigEntriesInUse
    type_member: str  # "PoolType" or "PoolFlags"
    has_process_billed: bool
    warnings: tuple[str, ...]

    def coverage(self) -> dict:
        return {"name": "PoolBigPageTable", "address": self.address,
                "entries_expected": self.declared, "entries_requested": self.requested,
                "entries_read": self.read, "entries_absent": self.requested - self.read,
                "absent_ranges": [[i, j] for i, j in self.absent]}


def read_big_pool(view: KernelView, max_entries: int = MAX_BIG_ENTRIES) -> BigPoolTable:
    type_name = "_POOL_TRACKER_BIG_PAGES"
    layout = view.layout(type_name)
    warnings: list[str] = []
    address = view.canonical(view.read_pointer(view.symbol("PoolBigPageTable")))
    declared = view.read_pointer(view.symbol("PoolBigPageTableSize"))
    type_member, _, _ = first_member(view, type_name, "PoolType", "PoolFlags")
    billed = "ProcessBilled" in layout.members
    counter = None
    if view.has_symbol("ExpPoolBigEntriesInUse"):
        try:
            counter = view.read_uint(view.symbol("ExpPoolBigEntriesInUse"), 4)
        except MemoryAbsent:
            warnings.append("ExpPoolBigEntriesInUse absent from the dump")
    if address == 0:
        if declared:
            warnings.append("PoolBigPageTable is NULL while PoolBigPageTableSize is "
                            f"{declared:#x}; no big-pool entries read")
        return BigPoolTable(0, declared, 0, 0, (), np.zeros(0, ENTRY_DTYPE), 0, counter,
                            type_member, billed, tuple(warnings))
    if declared & (declared - 1):
        warnings.append(f"PoolBigPageTableSize {declared:#x} is not a power of two")
    table = read_table(view, "PoolBigPageTable", address, declared, layout.size, max_entries)
    warnings.extend(table.warnings)
    paths = ["Va", "Key", type_member, "NumberOfBytes"] + (["ProcessBilled"] if billed else [])
    entries = np.zeros(0, ENTRY_DTYPE)
    in_use = 0
    # decode piece by piece so a huge table never holds more than one piece of columns
    parts = []
    for first, count, chunk in table.pieces(max(1, (16 << 20) // layout.size)):
        values = columns(view, type_name, chunk, count, paths)
        va, key = values["Va"], values["Key"]
        in_use += int(np.count_nonzero((va & np.uint64(1)) == 0))
        keep = key != 0
        if not keep.any():
            continue
        part = np.zeros(int(keep.sum()), ENTRY_DTYPE)
        part["index"] = np.nonzero(keep)[0] + first
        part["va"] = canonical_array(view, va[keep] & ~np.uint64(1))
        part["key"] = key[keep]
        part["pool_type"] = values[type_member][keep]
        part["bytes"] = values["NumberOfBytes"][keep]
        part["free"] = (va[keep] & np.uint64(1)) != 0
        if billed:
            part["process_billed"] = canonical_array(view, values["ProcessBilled"][keep])
        parts.append(part)
    if parts:
        entries = np.concatenate(parts)
    if counter is not None and table.read == table.requested == declared:
        tolerance = max(16, in_use // 20)
        if abs(counter - in_use) > tolerance:
            warnings.append(f"big pool: {in_use} entries in use in the table, but "
                            f"ExpPoolBigEntriesInUse says {counter}")
    return BigPoolTable(address, declared, table.requested, table.read, table.absent, entries,
                        in_use, counter, type_member, billed, tuple(warnings))
