"""Pool tag tracking tables (doc §2), summed the ``!poolused`` way (§2.4 [M]).

Tables read: every distinct non-null table of {``*PoolTrackTable``,
``ExPoolTagTables[0..n)``}, each ``[*PoolTrackTableSize]`` of ``_POOL_TRACKER_TABLE``,
plus ``*PoolTrackTableExpansion`` ``[*PoolTrackTableExpansionSize]`` (linear).
Slots of ExPoolTagTables: 0 .. P - 1, P = max(KeNumberProcessors, header
NumberProcessors) capped at the slot count the symbol spacing gives (64 when unknown).
Slot i is processor i's table (§2.1 [V S4]; [M+] later), so a kernel has no more
tables than processors: non-null slots past P are reported, not read (doc §2.1's
practical rule read on while non-null; a corrupt page of slots made that hundreds of
tables). In a per-processor table an entry with
Key 0 takes the key of the global table's entry at the same index (§2.4).
Per key, every field is summed in its own width (mod 2^32 or mod 2^64); the Bytes
sums are read back as signed (a negative total means corruption), the
allocation and free counts stay unsigned.

Bad input. ``PoolTrackTableSize`` is 2^n + 1 and ``PoolTrackTableMask`` = Size - 2
(§2.1 [V S4]); a size of another shape, or above the cap, gives way to a mask of the
right shape. A per-processor slot is read only when it points into kernel space, with
the global table's pool alignment, at a page the dump holds; a table whose keys disagree
with the global table's is dropped after the read. The work of the whole section is
bounded (MAX_SECTION_ENTRIES entries requested over every table, the global table first),
and its memory follows what the dump holds, not what a count claims: a bad per-processor
slot costs a warning, never the global table. The hashed tables share their
indices (a per-processor entry sits at its key's index in the global table), so a lost
page shows: entries absent from the dump, and runs of zero entries covering a whole page
of a table at indices where the other tables are in use more often than chance allows
(a zero-filled page, read as unreadable, not as empty slots). A key with an entry at an
index that some table could not supply is *partial*: its sums lack that table's
counters, so ``TagTotals.partial`` marks it (the engine lists it apart).
"""
from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field

import numpy as np

from .common import (MAX_TABLE_BYTES, TableRead, as_signed, global_width, member, range_warnings,
                     read_global, read_table, symbol_gap, tag_display)
from .view import KernelView, MemoryAbsent

MAX_TRACK_ENTRIES = 1 << 22  # per table; real tables hold a few thousand entries
# every tag table of a dump together (entries requested: global, per-processor, expansion):
# 64 processors with tables of 2^16 + 1 entries stay well inside it
MAX_SECTION_ENTRIES = 1 << 23
MAX_TAG_TABLE_SLOTS = 4096
DEFAULT_SLOTS = 64
# a run of zero entries covering a whole page of one table is taken as a lost page when
# the other tables use k of its indices and this table's own usage rate f elsewhere
# makes k misses this unlikely: (1 - f) ** k < ZERO_PAGE_CHANCE
ZERO_PAGE_CHANCE = 1e-6
FIELDS = {  # report name -> _POOL_TRACKER_TABLE member
    "paged_allocs": "PagedAllocs", "paged_frees": "PagedFrees", "paged_bytes": "PagedBytes",
    "nonpaged_allocs": "NonPagedAllocs", "nonpaged_frees": "NonPagedFrees",
    "nonpaged_bytes": "NonPagedBytes",
}


@dataclass(frozen=True)
class TagTableInfo:
    source: str  # "PoolTrackTable", "ExPoolTagTables[3]", "PoolTrackTableExpansion"
    address: int
    declared: int
    requested: int
    read: int
    absent: tuple[tuple[int, int], ...]
    zero_keys_filled: int  # per-processor entries that took the global key
    zero_filled: tuple[tuple[int, int], ...] = ()  # entry ranges read as a lost, zero-filled page
    # per-entry rows as summed: Key (after the key-0 fill), the raw counters by member name,
    # and which entries were read (absent and zero-filled ones excluded)
    keys: np.ndarray | None = dataclass_field(default=None, compare=False, repr=False)
    counters: dict[str, np.ndarray] | None = dataclass_field(default=None, compare=False, repr=False)
    valid: np.ndarray | None = dataclass_field(default=None, compare=False, repr=False)

    def coverage(self) -> dict:
        zero = sum(j - i for i, j in self.zero_filled)
        return {"name": self.source, "address": self.address, "entries_expected": self.declared,
                "entries_requested": self.requested, "entries_read": self.read - zero,
                "entries_absent": self.requested - self.read,
                "absent_ranges": [[i, j] for i, j in self.absent],
                "entries_zero_filled": zero, "zero_filled_ranges": [[i, j] for i, j in self.zero_filled]}


@dataclass(frozen=True)
class TagTotals:
    keys: np.ndarray  # uint32, sorted, distinct, non-zero
    values: dict[str, np.ndarray]  # report field name -> int64 (bytes, signed) / uint64 (counts)
    widths: dict[str, int]  # report field name -> bits
    tables: tuple[TagTableInfo, ...]
    slots_examined: int
    processors: int
    warnings: tuple[str, ...]
    partial: np.ndarray | None = None  # bool per key: some table could not supply its entry

    @property
    def complete(self) -> bool:
        """Every entry of every table read (nothing absent, no zero-filled page)."""
        return all(t.read == t.requested == t.declared and not t.zero_filled for t in self.tables)

    def is_partial(self, index: int) -> bool:
        return bool(self.partial is not None and self.partial[index])

    def row(self, index: int) -> dict:
        return {name: int(column[index]) for name, column in self.values.items()}


def processor_count(view: KernelView, header_processors: int | None,
                    bound: int = MAX_TAG_TABLE_SLOTS) -> tuple[int, list[str]]:
    """max(header NumberProcessors, KeNumberProcessors), each capped at the slot bound
    (ExPoolTagTables has no more slots); a warning when a count is capped or the two
    disagree."""
    warnings: list[str] = []
    counts: dict[str, int] = {}
    if header_processors:
        counts["header NumberProcessors"] = int(header_processors)
    if view.has_symbol("KeNumberProcessors"):
        width = global_width(view, "KeNumberProcessors")
        try:
            value = view.read_uint(view.symbol("KeNumberProcessors"), width)
            if value > MAX_TAG_TABLE_SLOTS and width > 1:  # a CCHAR on old kernels: the low byte only
                value &= 0xFF
            counts["KeNumberProcessors"] = value
        except MemoryAbsent:
            warnings.append("KeNumberProcessors absent from the dump")
    for name, value in list(counts.items()):
        if value > bound:
            warnings.append(f"{name} {value:#x} exceeds the {bound} ExPoolTagTables slots; "
                            f"capped at {bound}")
            counts[name] = bound
    if len(set(counts.values())) > 1:
        warnings.append("processor counts disagree: " + ", ".join(f"{name} {value}"
                                                               for name, value in counts.items())
                        + f"; the larger ({max(counts.values())}) was used")
    return max(max(counts.values(), default=0), 1), warnings


def slot_bound(view: KernelView) -> int:
    gap = symbol_gap(view, "ExPoolTagTables")
    if not gap:
        return DEFAULT_SLOTS
    return max(1, min(gap // view.pointer_size, MAX_TAG_TABLE_SLOTS))


def read_tag_tables(view: KernelView, header_processors: int | None = None) -> TagTotals:
    type_name = "_POOL_TRACKER_TABLE"
    layout = view.layout(type_name)
    warnings: list[str] = []
    bound = slot_bound(view)
    processors, more = processor_count(view, header_processors, bound)
    warnings += more
    size = read_global(view, "PoolTrackTableSize")
    size, more = _checked_size(view, size)
    warnings += more
    global_va = view.canonical(view.read_pointer(view.symbol("PoolTrackTable")))
    size, more = _size_from_overflow_entry(view, global_va, layout.size, size)
    warnings += more
    sources, examined, more = _table_sources(view, bound, processors, global_va)
    warnings += more
    if not size:
        sources = []  # the hashed tables' extent is unknown: reading them would invent tags
    if not global_va:
        warnings.append("PoolTrackTable is NULL: per-processor entries with Key 0 cannot take "
                        "a key and are ignored")
    paths = ["Key"] + list(FIELDS.values())
    key_parts: list[np.ndarray] = []
    value_parts: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
    index_parts: list[np.ndarray] = []  # hashed-table index of each kept entry (-1: expansion)
    infos: list[TagTableInfo] = []
    global_keys: np.ndarray | None = None
    orphans = 0
    hashed: list[dict] = []  # per hashed table: name, va, table, valid, used, keep
    alignment = table_alignment(view, global_va)
    rejected: list[str] = []
    budget = MAX_SECTION_ENTRIES
    requested = min(max(size, 0), MAX_TRACK_ENTRIES, MAX_TABLE_BYTES // max(layout.size, 1))
    tables: list[tuple[str, int, TableRead]] = []
    over_budget = 0
    # the expansion table (global, linear) is read before any per-processor table
    expansion = view.canonical(view.read_pointer(view.symbol("PoolTrackTableExpansion")))
    expansion_size = read_global(view, "PoolTrackTableExpansionSize")
    expansion_table = None
    if expansion and expansion_size:
        why = _slot_pointer_fault(view, expansion, 1, layout.size)
        if why:
            warnings.append(f"PoolTrackTableExpansion = {expansion:#x} ({why}): the expansion table "
                            "was not read")
        else:
            expansion_table = read_table(view, "PoolTrackTableExpansion", expansion, expansion_size,
                                         layout.size, MAX_TRACK_ENTRIES)
            budget -= expansion_table.requested
    for name, va in sources:
        if va != global_va:
            why = _slot_pointer_fault(view, va, alignment, layout.size)
            if why:
                rejected.append(f"{name} = {va:#x} ({why})")
                continue
            if requested > budget:
                over_budget += 1
                continue
        table = read_table(view, name, va, size, layout.size, MAX_TRACK_ENTRIES)
        budget -= table.requested
        tables.append((name, va, table))
    if over_budget:
        warnings.append(f"tag tables: {over_budget} per-processor tables not read: the section's "
                        f"bound of {MAX_SECTION_ENTRIES:#x} entries was reached")
    # arrays as long as the furthest entry any table holds: past it every table is absent
    length = max((table.extent for _, _, table in tables), default=0)
    for name, va, table in tables:
        values = table.columns(view, type_name, paths, length)
        keys = values["Key"].astype(np.uint32)
        valid = table.valid(length)
        if va != global_va and global_keys is not None:
            why = _keys_disagree(keys, valid, global_keys)
            if why:
                rejected.append(f"{name} = {va:#x} ({why})")
                continue
        warnings.extend(table.warnings)
        filled = 0
        counts_nonzero = np.zeros(len(keys), dtype=bool)
        for field in FIELDS.values():
            counts_nonzero |= values[field] != 0
        used = valid & ((keys != 0) | counts_nonzero)
        if va == global_va:
            global_keys = np.where(valid, keys, 0).astype(np.uint32)
        elif global_keys is not None:
            zero = (keys == 0) & (global_keys != 0)
            filled = int(np.count_nonzero(zero & valid & counts_nonzero))
            keys = np.where(zero, global_keys, keys)
        orphan = valid & (keys == 0) & counts_nonzero
        keep = valid & (keys != 0)
        hashed.append({"name": name, "va": va, "table": table, "valid": valid, "used": used,
                       "keys": keys, "values": {f: values[f] for f in FIELDS.values()},
                       "orphan": orphan, "keep": keep, "filled": filled})
    if rejected:
        warnings.append(f"tag tables: {len(rejected)} ExPoolTagTables slot(s) hold no per-processor "
                        f"tag table and were skipped: {'; '.join(rejected[:MAX_NAMED_SLOTS])}"
                        f"{' ...' if len(rejected) > MAX_NAMED_SLOTS else ''}")
    # zero-filled pages: runs of zero entries over a whole page, at indices the other
    # tables use more often than chance allows (see ZERO_PAGE_CHANCE)
    if hashed:
        in_use = np.zeros(length, dtype=np.int32)
        for info in hashed:
            in_use += info["used"]
        for info in hashed:
            others = (in_use - info["used"]) > 0
            runs = info["table"].zero_pages()
            inside = np.zeros(length, dtype=bool)
            for i, j in runs:
                inside[i:j] = True
            elsewhere = others & info["valid"] & ~inside
            rate = (np.count_nonzero(elsewhere & info["used"]) / np.count_nonzero(elsewhere)
                    if np.count_nonzero(elsewhere) else 0.0)
            lost = []
            for i, j in runs:
                k = int(np.count_nonzero(others[i:j]))
                if k and (rate >= 1.0 or (1.0 - rate) ** k < ZERO_PAGE_CHANCE):
                    lost.append((i, j))
            info["zero_filled"] = tuple(lost)
            if lost:
                for i, j in lost:
                    info["valid"] = info["valid"].copy()
                    info["valid"][i:j] = False
                    info["keep"][i:j] = False
                    info["orphan"][i:j] = False
                warnings += range_warnings(info["name"], lost,
                                           "are zero over a whole page while the other tag tables use "
                                           "those indices: read as a lost (zero-filled) page, not as "
                                           "unused entries")
        complete = np.ones(length, dtype=bool)
        for info in hashed:
            complete &= info["valid"]
        for info in hashed:
            keep = info["keep"]
            orphans += int(np.count_nonzero(info["orphan"] & complete))
            key_parts.append(info["keys"][keep])
            index_parts.append(np.flatnonzero(keep))
            for report_name, field in FIELDS.items():
                value_parts[report_name].append(info["values"][field][keep])
            table = info["table"]
            infos.append(TagTableInfo(info["name"], info["va"], size, table.requested, table.read,
                                      table.absent, info["filled"], info.get("zero_filled", ()),
                                      info["keys"], info["values"], info["valid"]))
        incomplete_orphans = sum(int(np.count_nonzero(info["orphan"] & ~complete)) for info in hashed)
        if incomplete_orphans:
            warnings.append(f"tag tables: {incomplete_orphans} per-processor entries with Key 0 and "
                            "non-zero counters sit at indices the global table could not supply; their "
                            "tags are unknown")
    else:
        complete = np.ones(0, dtype=bool)
    # expansion table
    if expansion_table is not None:
        table = expansion_table
        warnings.extend(table.warnings)
        values = table.columns(view, type_name, paths, table.extent)
        keys = values["Key"].astype(np.uint32)
        valid = table.valid(table.extent)
        keep = valid & (keys != 0)
        key_parts.append(keys[keep])
        index_parts.append(np.full(int(np.count_nonzero(keep)), -1, dtype=np.int64))
        for report_name, field in FIELDS.items():
            value_parts[report_name].append(values[field][keep])
        infos.append(TagTableInfo("PoolTrackTableExpansion", expansion, expansion_size,
                                  table.requested, table.read, table.absent, 0, (), keys,
                                  {f: values[f] for f in FIELDS.values()}, valid))
    elif expansion_size and not expansion:
        warnings.append(f"PoolTrackTableExpansionSize is {expansion_size:#x} but the table pointer "
                        "is NULL")
    if orphans:
        warnings.append(f"tag tables: {orphans} per-processor entries with Key 0 and non-zero counters "
                        "have no global key at their index; ignored")
    widths = {name: 8 * member(view, type_name, field)[1].size for name, field in FIELDS.items()}
    all_keys = np.concatenate(key_parts) if key_parts else np.zeros(0, np.uint32)
    order = np.argsort(all_keys, kind="stable")
    sorted_keys = all_keys[order]
    distinct, starts = np.unique(sorted_keys, return_index=True)
    # a key is partial when one of its entries sits at an index some hashed table lacks
    indices = np.concatenate(index_parts) if index_parts else np.zeros(0, np.int64)
    short = np.zeros(len(all_keys), dtype=bool)
    hashed_entry = indices >= 0
    short[hashed_entry] = ~complete[indices[hashed_entry]]
    partial = (np.add.reduceat(short[order].astype(np.int64), starts) > 0) if len(starts) \
        else np.zeros(0, dtype=bool)
    if partial.any():
        names = [key_text(k) for k in distinct[partial][:8].tolist()]
        warnings.append(f"tag tables: the totals of {int(partial.sum())} tags are partial (an entry of "
                        f"theirs is missing from some table): {', '.join(names)}"
                        f"{' ...' if partial.sum() > 8 else ''}")
    totals: dict[str, np.ndarray] = {}
    for report_name in FIELDS:
        column = (np.concatenate(value_parts[report_name]) if value_parts[report_name]
                  else np.zeros(0, np.uint64))[order]
        # uint64 addition wraps mod 2^64; narrower fields are folded to their width
        summed = np.add.reduceat(column, starts) if len(column) else np.zeros(0, np.uint64)
        bits = widths[report_name]
        if bits < 64:
            summed = summed & np.uint64((1 << bits) - 1)
        totals[report_name] = as_signed(summed, bits) if report_name.endswith("bytes") else summed
        negative = int(np.count_nonzero((totals[report_name] < 0) & ~partial)) \
            if report_name.endswith("bytes") else 0
        if negative:
            warnings.append(f"tag tables: {negative} tags have a negative {report_name} total "
                            "(corrupt or inconsistent counters)")
    return TagTotals(distinct.astype(np.uint32), totals, widths, tuple(infos), examined, processors,
                     tuple(warnings), partial)


PAGE_BYTES = 0x1000
MAX_NAMED_SLOTS = 4  # rejected slots named in the one warning
# a per-processor table whose non-zero keys differ from the global table's keys at the same
# index more often than this (over at least MIN_KEYS_COMPARED indices) is no tag table
MAX_KEY_DISAGREEMENT = 0.5
MIN_KEYS_COMPARED = 4


def table_alignment(view: KernelView, global_va: int) -> int:
    """The alignment a per-processor table must share with the global one: the pool's
    allocation granularity (sizeof(_POOL_HEADER) from the ISF, else two pointers), or
    less when the global table itself is aligned less."""
    granularity = view.layout("_POOL_HEADER").size if view.has_type("_POOL_HEADER") \
        else 2 * view.pointer_size
    granularity = 1 << (max(granularity, 1).bit_length() - 1)  # a power of two
    if global_va:
        granularity = min(granularity, global_va & -global_va)
    return granularity


OVERFLOW_KEY = int.from_bytes(b"Ovfl", "little")  # the last hashed entry's key (doc §2.1 [V S4])


def _overflow_size(view: KernelView, global_va: int, entry_size: int, below: int) -> int | None:
    """The smallest 2^n + 1 below ``below`` whose last entry, index 2^n of the global
    table, holds the overflow bucket's key 'Ovfl' (doc §2.1), or None."""
    key_off, key_member = member(view, "_POOL_TRACKER_TABLE", "Key")
    if not global_va:
        return None
    for bits in range(1, MAX_TRACK_ENTRIES.bit_length()):
        if (1 << bits) + 1 >= below:
            break
        address = global_va + (1 << bits) * entry_size + key_off
        if address + key_member.size - 1 > view.pointer_mask:
            break
        raw, missing = view.read_pages(address, key_member.size)
        if not missing and int.from_bytes(raw, "little") == OVERFLOW_KEY:
            return (1 << bits) + 1
    return None


def _size_from_overflow_entry(view: KernelView, global_va: int, entry_size: int,
                              size: int) -> tuple[int, list[str]]:
    """The hashed tables' entry count, given PoolTrackTableSize after :func:`_checked_size`.

    A size of the shape 2^n + 1 whose last entry in the global table is not the overflow
    bucket (or is absent) gives way to a smaller 2^m + 1 whose last entry is (doc §2.1: the
    key 'Ovfl' sits at the last index only); a
    size of another shape gives way to any 2^m + 1 whose last entry is 'Ovfl', else it is
    read as given when within the cap, else 0: the extent is unknown. A kernel whose table
    has no 'Ovfl' entry keeps its size."""
    if table_size_shaped(size):
        key_off, key_member = member(view, "_POOL_TRACKER_TABLE", "Key")
        raw, missing = view.read_pages(global_va + (size - 1) * entry_size + key_off, key_member.size) \
            if global_va and global_va + size * entry_size - 1 <= view.pointer_mask else (b"", [(0, 1)])
        last = int.from_bytes(raw, "little")
        if not missing and last == OVERFLOW_KEY:
            return size, []
        found = _overflow_size(view, global_va, entry_size, size)
        if found is None:
            return size, []
        holds = "is absent from the dump" if missing else f"holds {tag_display(last)}"
        return found, [f"PoolTrackTableSize {size:#x} is implausible: its last entry {holds}, not the "
                       f"overflow bucket 'Ovfl', which is at index {found - 1:#x} and gives "
                       f"{found:#x} entries, which were read"]
    found = _overflow_size(view, global_va, entry_size, MAX_TRACK_ENTRIES + 2)
    if found is not None:
        return found, [f"PoolTrackTableSize {size:#x} is implausible; the overflow entry 'Ovfl' at "
                       f"index {found - 1:#x} gives {found:#x} entries, which were read"]
    if 0 < size <= MAX_TRACK_ENTRIES:
        return size, []  # read as given (the warning about its shape is _checked_size's)
    return 0, [f"PoolTrackTableSize {size:#x} is implausible and no 'Ovfl' overflow entry marks the "
               "table's end: the hashed tag tables were not read (their extent is unknown)"]


def _table_sources(view: KernelView, bound: int, processors: int,
                   global_va: int) -> tuple[list[tuple[str, int]], int, list[str]]:
    """The distinct tables to read, the global one first: (name, VA) of PoolTrackTable
    and of the non-null ExPoolTagTables slots below the processor count; the slots
    examined; warnings (slots absent, non-null slots past the processor count)."""
    warnings: list[str] = []
    slots_va = view.symbol("ExPoolTagTables")
    raw, absent = view.read_pages(slots_va, bound * view.pointer_size)
    pointers = np.frombuffer(bytes(raw), dtype="<u8" if view.pointer_size == 8 else "<u4").astype(np.uint64)
    if absent:
        first_absent = absent[0][0] // view.pointer_size
        pointers = pointers[:first_absent]
        if first_absent < processors:
            warnings.append(f"ExPoolTagTables: slots from {first_absent} on are absent from the dump; "
                            "the per-processor tables they point at were not read")
    past = int(np.count_nonzero(pointers[processors:]))
    if past:
        warnings.append(f"ExPoolTagTables: {past} non-null slots past the processor count "
                        f"({processors}) were not read (one tag table per processor)")
    pointers = pointers[:processors]
    sources: list[tuple[str, int]] = []
    seen: set[int] = set()
    for index, pointer in enumerate(pointers.tolist()):
        if pointer == 0:
            continue
        pointer = view.canonical(pointer)
        if index == 0 and global_va and pointer != global_va:
            warnings.append(f"ExPoolTagTables[0] = {pointer:#x} differs from PoolTrackTable = "
                            f"{global_va:#x}")
        if pointer in seen:
            continue
        seen.add(pointer)
        sources.append(("PoolTrackTable" if pointer == global_va else f"ExPoolTagTables[{index}]",
                        pointer))
    if global_va and global_va not in seen:
        sources.insert(0, ("PoolTrackTable", global_va))
    sources.sort(key=lambda item: item[1] != global_va)  # the global table first
    return sources, len(pointers), warnings


def _slot_pointer_fault(view: KernelView, va: int, alignment: int, entry_size: int) -> str | None:
    """Why a pointer cannot be a tag table (per-processor or expansion), or None: it must
    lie in kernel space, share the global table's pool alignment, and its first entry
    must be in the dump (a table is nonpaged pool, which a kernel dump holds)."""
    if not view.in_kernel_space(va):
        return "not a kernel-space address"
    if va % alignment:
        return f"not {alignment:#x}-aligned like the global table"
    if va + entry_size - 1 > view.pointer_mask:
        return "past the end of the address space"
    _, missing = view.read_pages(va, entry_size)
    if missing:
        return "absent from the dump"
    return None


def _keys_disagree(keys: np.ndarray, valid: np.ndarray, global_keys: np.ndarray) -> str | None:
    """Why a table read at a slot's pointer is not a per-processor tag table: its non-zero
    keys mostly differ from the global table's non-zero keys at the same indices."""
    n = min(len(keys), len(global_keys))
    both = valid[:n] & (keys[:n] != 0) & (global_keys[:n] != 0)
    compared = int(np.count_nonzero(both))
    if compared < MIN_KEYS_COMPARED:
        return None
    differ = int(np.count_nonzero(both & (keys[:n] != global_keys[:n])))
    if differ > MAX_KEY_DISAGREEMENT * compared:
        return f"{differ} of {compared} keys differ from the global table's at the same index"
    return None


def table_size_shaped(size: int) -> bool:
    """A PoolTrackTableSize of the kernel's shape: 2^n + 1 (doc §2.1 [V S4]), within the cap."""
    return 2 < size <= MAX_TRACK_ENTRIES + 1 and (size - 1) & (size - 2) == 0


def _checked_size(view: KernelView, size: int) -> tuple[int, list[str]]:
    """PoolTrackTableSize, cross-checked with PoolTrackTableMask (= Size - 2 [V S4]): a
    size not of the shape 2^n + 1 (or above the cap) gives way to a mask of the right
    shape; each disagreement is a warning."""
    mask = None
    if view.has_symbol("PoolTrackTableMask"):
        try:
            mask = read_global(view, "PoolTrackTableMask")
        except MemoryAbsent:
            mask = None
    shaped = table_size_shaped(size)
    if mask is not None and mask + 2 == size:
        if shaped:
            return size, []
        return size, [f"PoolTrackTableSize {size:#x} is implausible (not 2^n + 1 up to "
                      f"{MAX_TRACK_ENTRIES + 1:#x}), though PoolTrackTableMask agrees"]
    if mask is None:
        return size, [] if shaped else [f"PoolTrackTableSize {size:#x} is implausible (not 2^n + 1 "
                                        f"up to {MAX_TRACK_ENTRIES + 1:#x})"]
    if not shaped and table_size_shaped(mask + 2):
        return mask + 2, [f"PoolTrackTableSize {size:#x} is implausible; PoolTrackTableMask {mask:#x} "
                          f"gives {mask + 2:#x} entries, which were read"]
    return size, [f"PoolTrackTableSize {size:#x} does not match PoolTrackTableMask {mask:#x} "
                  "(Size - 2 expected); the size was used"]


def key_text(key: int) -> str:
    """Quoted, escaped tag text for warnings (see common.tag_display)."""
    return tag_display(key)
