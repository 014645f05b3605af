"""The big-page pool table (doc §1): ``*PoolBigPageTable`` -> ``[*PoolBigPageTableSize]``
of ``_POOL_TRACKER_BIG_PAGES``, read in bulk and decoded in one numpy pass.

Kept: every entry with Key != 0 (live ones and the stale records of freed blocks,
doc §1.3). ``va`` has the free bit (bit 0) cleared; ``free`` = that bit; ``pool_type``
is the raw PoolType member (``PoolFlags`` on builds that renamed it), masked to its
bit width (a 12-bit field on Windows 10+, a whole dword on 7/8.1);
``process_billed`` where the member exists (Windows 11). ExpPoolBigEntriesInUse is
only a plausibility check (its layout on Windows 10 is unsettled, doc §1.1).

Bad input: an entry with a Key is a block only when it has the shape of one: a
page-aligned kernel-space Va (free bit aside) and a NumberOfBytes that keeps the block
inside the address space; live blocks occupy disjoint ranges, so a live entry whose size
runs into the next live block has an impossible size. Such entries are left out with a
warning (so no total of block sizes can exceed the address space). Every slot of a live table holds a non-zero ``Va`` (unused slots hold
Va = 1, doc §1.3), so entries whose bytes are all zero were lost or zero-filled in the
dump: they are reported as unreadable (warning and ``coverage``), never as empty slots.
A ``PoolBigPageTableSize`` above the cap is not trusted: the table is read as far as
its entries have the shape of table slots, rounded down to a power of two (table
sizes are powers of two), with a warning.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import (CHUNK_BYTES, DEFAULT_PAGED_BIT, DEFAULT_SESSION_BIT, MAX_TABLE_BYTES, canonical_array,
                     columns, first_member, pool_type_bits, range_warnings, read_global, read_table, true_runs)
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
    zero_filled: tuple[tuple[int, int], ...] = ()  # entry ranges whose bytes are all zero
    paged_bit: int = DEFAULT_PAGED_BIT  # PoolType bits, from the ISF's _POOL_TYPE enum
    session_bit: int = DEFAULT_SESSION_BIT

    def coverage(self) -> dict:
        zero = sum(j - i for i, j in self.zero_filled)
        return {"name": "PoolBigPageTable", "address": self.address,
                "entries_expected": self.declared, "entries_requested": self.requested,
                "entries_read": self.read - zero, "entries_absent": self.requested - self.read,
                "absent_ranges": [[i, j] for i, j in self.absent],
                "entries_zero_filled": zero, "zero_filled_ranges": [[i, j] for i, j in self.zero_filled]}


def read_big_pool(view: KernelView, max_entries: int = MAX_BIG_ENTRIES) -> BigPoolTable:
    type_name = "_POOL_TRACKER_BIG_PAGES"
    layout = view.layout(type_name)
    warnings: list[str] = []
    address = view.canonical(view.read_pointer(view.symbol("PoolBigPageTable")))
    declared = read_global(view, "PoolBigPageTableSize")
    type_member, _, _ = first_member(view, type_name, "PoolType", "PoolFlags")
    billed = "ProcessBilled" in layout.members
    counter = None
    if view.has_symbol("ExpPoolBigEntriesInUse"):
        try:
            counter = read_global(view, "ExpPoolBigEntriesInUse")
        except MemoryAbsent:
            warnings.append("ExpPoolBigEntriesInUse absent from the dump")
    if address == 0:
        if declared:
            warnings.append("PoolBigPageTable is NULL while PoolBigPageTableSize is "
                            f"{declared:#x}; no big-pool entries read")
        return BigPoolTable(0, declared, 0, 0, (), np.zeros(0, ENTRY_DTYPE), 0, counter,
                            type_member, billed, tuple(warnings), (), *pool_type_bits(view))
    if declared & (declared - 1):
        warnings.append(f"PoolBigPageTableSize {declared:#x} is not a power of two")
    count = declared
    limit = min(max_entries, MAX_TABLE_BYTES // layout.size)
    if declared > limit:
        count, why = _plausible_extent(view, address, limit, layout.size)
        warnings.append(f"table PoolBigPageTable: entry count {declared:#x} is implausible; {why}; "
                        f"only the first {count:#x} entries were read")
    table = read_table(view, "PoolBigPageTable", address, count, layout.size, max_entries)
    warnings.extend(w for w in table.warnings if "is implausible" not in w)
    paths = ["Va", "Key", type_member, "NumberOfBytes"] + (["ProcessBilled"] if billed else [])
    entries = np.zeros(0, ENTRY_DTYPE)
    in_use = 0
    # decode piece by piece so a huge table never holds more than one piece of columns
    parts = []
    zero_runs: list[tuple[int, int]] = []
    for first, count, chunk in table.pieces(max(1, CHUNK_BYTES // layout.size)):
        values = columns(view, type_name, chunk, count, paths)
        va, key = values["Va"], values["Key"]
        zero = ~np.frombuffer(chunk, np.uint8).reshape(count, layout.size).any(axis=1)
        for lo, hi in true_runs(zero):
            if zero_runs and zero_runs[-1][1] == first + lo:
                zero_runs[-1] = (zero_runs[-1][0], first + hi)
            else:
                zero_runs.append((first + lo, first + hi))
        in_use += int(np.count_nonzero(((va & np.uint64(1)) == 0) & ~zero))
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
    entries, more = _drop_impossible_entries(view, entries)
    warnings += more
    warnings += range_warnings("PoolBigPageTable", zero_runs,
                               "are all zero, which no slot of the table holds (an unused slot has "
                               "Va = 1): lost or zero-filled in the dump, not read")
    if counter is not None and table.read == table.requested == declared and not zero_runs:
        tolerance = max(16, in_use // 20)
        if abs(counter - in_use) > tolerance:
            warnings.append(f"big pool: {in_use} entries in use in the table, but "
                            f"ExpPoolBigEntriesInUse says {counter}")
    return BigPoolTable(address, declared, table.requested, table.read, table.absent, entries,
                        in_use, counter, type_member, billed, tuple(warnings), tuple(zero_runs),
                        *pool_type_bits(view))


def _slot_shaped(view: KernelView, va: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Entries that look like big-page table slots (doc §1.3): unused (Va = 1, Key 0),
    live (page-aligned kernel Va, Key != 0) or the stale record of a freed block
    (the same with bit 0 set)."""
    low = va & np.uint64(0xFFF)
    kernel = view.in_kernel_space_array(va)
    unused = (va == np.uint64(1)) & (key == 0)
    used = (key != 0) & kernel & ((low == 0) | (low == 1))
    return unused | used


def _plausible_extent(view: KernelView, address: int, limit: int, size: int) -> tuple[int, str]:
    """For an implausible PoolBigPageTableSize: how far the memory at the table has the
    shape of table slots (stop at the first entry that does not, or that is absent),
    rounded down to a power of two. Reads chunk by chunk, keeping none of them."""
    per_chunk = max(1, CHUNK_BYTES // size)
    end = limit
    reason = f"entries look like table slots up to the cap {limit:#x}"
    for first in range(0, limit, per_chunk):
        n = min(per_chunk, limit - first)
        data, missing = view.read_pages(address + first * size, n * size)
        values = columns(view, "_POOL_TRACKER_BIG_PAGES", data, n, ["Va", "Key"])
        bad = ~_slot_shaped(view, values["Va"], values["Key"])
        for start, stop in missing:
            bad[start // size: -(-stop // size)] = True
        hits = np.flatnonzero(bad)
        if hits.size:
            end = first + int(hits[0])
            what = "is absent from the dump" if any(start // size <= hits[0] < -(-stop // size)
                                                   for start, stop in missing) else "is no table slot"
            reason = f"entry {end:#x} {what}, the entries before it look like table slots"
            break
    count = 1 << (end.bit_length() - 1) if end else 0
    return count, reason + " (table sizes are powers of two)"


MAX_NAMED_ENTRIES = 3  # impossible entries named in a warning


def _drop_impossible_entries(view: KernelView, entries: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Leave out entries that cannot describe a block (see the module docstring): a Va
    that is not a page-aligned kernel address (e.g. an unused slot's Va = 1 that kept a
    Key), a size past the end of the address space, a live size overlapping the next live
    block."""
    warnings: list[str] = []
    if not len(entries):
        return entries, warnings
    va, size = entries["va"], entries["bytes"]
    shaped = view.in_kernel_space_array(va) & ((va & np.uint64(0xFFF)) == 0)
    room = np.uint64(view.pointer_mask) - va + np.uint64(1)  # bytes from va to the top (va > 0)
    fits = shaped & (size <= room)
    live = np.flatnonzero(fits & ~entries["free"])
    overlapping = np.zeros(len(entries), dtype=bool)
    if len(live) > 1:
        order = live[np.argsort(va[live], kind="stable")]
        ends = va[order[:-1]] + size[order[:-1]]  # no wrap: each fits
        overlapping[order[:-1][ends > va[order[1:]]]] = True
    for mask, what in ((~shaped, "a Va that is no page-aligned kernel address (a Key left in an "
                                 "unused slot, or a corrupt Va)"),
                       (shaped & ~fits, "a NumberOfBytes that runs past the end of the address space"),
                       (overlapping, "a NumberOfBytes that runs into the next live block")):
        bad = np.flatnonzero(mask)
        if len(bad):
            named = ", ".join(f"entry {int(entries['index'][i])} (Va {int(entries['va'][i]):#x}, "
                              f"NumberOfBytes {int(entries['bytes'][i]):#x})"
                              for i in bad[:MAX_NAMED_ENTRIES])
            warnings.append(f"big pool: {len(bad)} entries with a Key have {what}; left out: {named}"
                            f"{' ...' if len(bad) > MAX_NAMED_ENTRIES else ''}")
    return entries[fits & ~overlapping], warnings
