"""Driver Verifier: global statistics, configured and loaded verified drivers, and
the per-driver pool-tracking slots (doc §3).

Chains:
* ``MmVerifierData`` (inline ``_MM_DRIVER_VERIFIER_DATA``): every plain-integer member by
  its ISF name (``dumpscan.report.schema.counter_members``);
* ``VfSuspectDriversList`` (LIST_ENTRY of ``_VF_SUSPECT_DRIVER_ENTRY``): the configured
  names, loaded or not (§3.3);
* ``ViTargetDriversAvl`` (inline ``_VF_AVL_TREE``) -> ``Tables`` -> ``_VF_AVL_TABLE[TablesNo]``
  -> ``RtlTable.BalancedRoot.RightChild`` -> in-order RTL AVL walk; each node's payload
  (after the links, 8-aligned) is a ``_VF_TARGET_DRIVER`` -> ``VerifiedData`` ->
  ``_VF_TARGET_VERIFIED_DRIVER_DATA``, accepted only with Signature 0x98761940 (§3.4-3.5);
* tracker pages: the ``PoolPageHeaders`` SLIST -> ``_VI_POOL_PAGE_HEADER`` chain
  (NextPage), a page accepted only with Signature 0x21321345 and VerifierEntry
  pointing back at the driver data; free slots: the ``PoolTrackers`` SLIST (NextFree).
  Outstanding = slots 1..n-1 of accepted pages minus the free set minus never-used
  slots (VirtualAddress 0) (§3.6 [M]).
Checks (warnings): node count vs NodeCount, tree keys vs loaded modules, slot count
vs Current*Allocations, each block's trailer pointer pointing back at its slot (big /
page-aligned block: va + NumberOfBytes - ptr; small: from the POOL_HEADER BlockSize).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..report.schema import counter_members
from ..symbols.isf import SymbolTableError
from .common import (MAX_LIST_ENTRIES, canonical_array, columns, first_member, member,
                     read_unicode_string, value_of)
from .lists import avl_inorder, avl_payload_offset, decode_slist_header, walk_chain, walk_list
from .modules import Module
from .view import PAGE, KernelView, MemoryAbsent

VERIFIED_DRIVER_SIGNATURE = 0x98761940  # MI_VERIFIER_ENTRY_SIGNATURE [V S4; M+]
POOL_PAGE_SIGNATURE = 0x21321345  # VI_POOL_PAGE_HEADER_SIGNATURE [V S4 mi.h]
MAX_ABSENT_AVL_TABLES = 4  # absent AVL tables named before giving up on the rest
MAX_AVL_TABLES = 4096
MAX_AVL_NODES = 1 << 16
MAX_TRACKER_PAGES = 1 << 16  # 256 MiB of tracker pages: ~8 million tracked blocks on x64
MAX_TRAILER_CHECKS = 1 << 18

# trailer check outcome per allocation
TRAILER_UNCHECKED, TRAILER_OK, TRAILER_MISMATCH, TRAILER_ABSENT, TRAILER_SKIPPED = range(5)
TRAILER_TEXT = {TRAILER_UNCHECKED: "unchecked", TRAILER_OK: "ok", TRAILER_MISMATCH: "mismatch",
                TRAILER_ABSENT: "absent", TRAILER_SKIPPED: "special-pool"}

ALLOC_DTYPE = np.dtype([("slot", "<u8"), ("address", "<u8"), ("special", "?"), ("caller", "<u8"),
                        ("length", "<u8"), ("key", "<u4"), ("trailer", "u1"),
                        ("header_pool_type", "<i4")])


@dataclass(frozen=True)
class SuspectDriver:
    address: int
    name: str
    loads: int
    unloads: int


@dataclass(frozen=True)
class VerifiedDriver:
    name: str
    data: int  # _VF_TARGET_VERIFIED_DRIVER_DATA VA
    node: int  # AVL node VA (0 when found another way)
    dll_base: int  # TreeNode.p
    range_size: int  # TreeNode.RangeSize
    signature_ok: bool
    counters: dict[str, int] | None
    allocations: np.ndarray  # ALLOC_DTYPE, sorted by address
    pages: tuple[int, ...] = ()  # accepted tracker pages, chain order
    rejected_pages: int = 0
    free_slots: int = 0
    source: str = "avl"  # "avl" or "bugcheck"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerifierState:
    address: int  # MmVerifierData
    level: int
    stats: dict[str, int]
    suspects: tuple[SuspectDriver, ...]
    drivers: tuple[VerifiedDriver, ...]
    node_count: int | None  # _VF_AVL_TREE.NodeCount
    tables_no: int
    nodes_walked: int
    warnings: tuple[str, ...] = field(default=())
    known: bool = True  # False when MmVerifierData is absent from the dump

    @property
    def enabled(self) -> bool:
        return bool(self.level or self.suspects or self.drivers)


def struct_counters(view: KernelView, type_name: str, data: bytes) -> dict[str, int]:
    """Every plain-integer member (report schema rule) of one struct, unsigned."""
    layout = view.layout(type_name)
    chosen = counter_members({name: (m.kind, m.size) for name, m in layout.members.items()})
    return {name: int.from_bytes(data[layout.members[name].offset:
                                      layout.members[name].offset + size], "little")
            for name, size in chosen.items()}


def read_verifier_globals(view: KernelView) -> tuple[int, dict[str, int]]:
    address = view.symbol("MmVerifierData")
    size = view.layout("_MM_DRIVER_VERIFIER_DATA").size
    stats = struct_counters(view, "_MM_DRIVER_VERIFIER_DATA", view.read(address, size))
    return address, stats


def read_suspects(view: KernelView) -> tuple[list[SuspectDriver], list[str]]:
    head = view.symbol("VfSuspectDriversList")
    type_name = "_VF_SUSPECT_DRIVER_ENTRY"
    links_off, _ = member(view, type_name, "Links")
    name_off, _ = member(view, type_name, "BaseName")
    loads_off, loads_member = member(view, type_name, "Loads")
    unloads_off, unloads_member = member(view, type_name, "Unloads")
    size = view.layout(type_name).size
    walk = walk_list(view, head, "VfSuspectDriversList", MAX_LIST_ENTRIES)
    warnings = list(walk.warnings)
    out = []
    for link in walk.items:
        entry = link - links_off
        try:
            raw = view.read(entry, size)
            name = read_unicode_string(view, entry + name_off)
        except MemoryAbsent:
            warnings.append(f"VfSuspectDriversList: entry {entry:#x} or its name is absent from the dump")
            continue
        out.append(SuspectDriver(entry, name, value_of(raw, loads_off, loads_member),
                                 value_of(raw, unloads_off, unloads_member)))
    return out, warnings


def suspect_name(view: KernelView, entry: int) -> str | None:
    if not entry:
        return None
    try:
        return read_unicode_string(view, entry + member(view, "_VF_SUSPECT_DRIVER_ENTRY", "BaseName")[0])
    except (MemoryAbsent, SymbolTableError):
        return None


class _Pages:
    """Tracker pages read once; free-list links are looked up in them."""

    def __init__(self, view: KernelView) -> None:
        self.view = view
        self.data: dict[int, bytes] = {}

    def page(self, va: int) -> bytes:
        start = va & ~(PAGE - 1)
        cached = self.data.get(start)
        if cached is None:
            cached = self.view.read(start, PAGE)
            self.data[start] = cached
        return cached

    def pointer(self, va: int) -> int:
        page = self.page(va)
        offset = va & (PAGE - 1)
        size = self.view.pointer_size
        if offset + size > PAGE:
            return self.view.read_pointer(va)
        return self.view.canonical(int.from_bytes(page[offset:offset + size], "little"))


def read_driver_data(view: KernelView, data_va: int, *, name: str, node: int = 0, dll_base: int = 0,
                     range_size: int = 0, source: str = "avl", check_trailers: bool = True,
                     page_candidates: tuple[int, ...] = ()) -> VerifiedDriver:
    """One verified driver: counters, tracker pages, free set, outstanding slots.

    ``page_candidates``: page-aligned blocks that may be tracker pages (the big-pool
    table's 'Vepp' blocks). When the PoolPageHeaders chain is broken (a cycle, a page
    absent or rejected, fewer pages than the SLIST depth says), the candidates that pass
    the same checks (Signature, VerifierEntry = this driver) are added, with a warning."""
    type_name = "_VF_TARGET_VERIFIED_DRIVER_DATA"
    layout = view.layout(type_name)
    warnings: list[str] = []
    empty = np.zeros(0, ALLOC_DTYPE)
    try:
        raw = view.read(data_va, layout.size)
    except MemoryAbsent:
        return VerifiedDriver(name, data_va, node, dll_base, range_size, False, None, empty,
                              source=source, warnings=(f"{name}: verifier data {data_va:#x} absent "
                                                       "from the dump",))
    sig_off, sig_member = member(view, type_name, "Signature")
    signature = value_of(raw, sig_off, sig_member)
    if signature != VERIFIED_DRIVER_SIGNATURE:
        return VerifiedDriver(name, data_va, node, dll_base, range_size, False, None, empty,
                              source=source,
                              warnings=(f"{name}: verifier data {data_va:#x} has Signature "
                                        f"{signature:#x}, not {VERIFIED_DRIVER_SIGNATURE:#x}; ignored",))
    counters = struct_counters(view, type_name, raw)
    pages = _Pages(view)
    # tracker pages
    entry_size = view.layout("_VI_POOL_ENTRY").size
    per_page = PAGE // entry_size
    next_page_off, _ = member(view, "_VI_POOL_PAGE_HEADER", "NextPage")
    owner_off, owner_member = member(view, "_VI_POOL_PAGE_HEADER", "VerifierEntry")
    psig_off, psig_member = member(view, "_VI_POOL_PAGE_HEADER", "Signature")
    slist_size = view.layout("_SLIST_HEADER").size
    headers_off, _ = member(view, type_name, "PoolPageHeaders")
    trackers_off, _ = member(view, type_name, "PoolTrackers")
    page_head = decode_slist_header(view, raw[headers_off:headers_off + slist_size], data_va + headers_off)
    walk = walk_chain(page_head.first, lambda va: pages.pointer(va + next_page_off),
                      f"{name}: PoolPageHeaders", MAX_TRACKER_PAGES)
    warnings += walk.warnings
    accepted: list[int] = []
    rejected = 0
    for header in walk.items:
        try:
            page = pages.page(header)
        except MemoryAbsent:
            warnings.append(f"{name}: tracker page {header:#x} absent from the dump")
            continue
        offset = header & (PAGE - 1)
        if offset:
            rejected += 1
            warnings.append(f"{name}: tracker page header {header:#x} is not page aligned; ignored")
            continue
        signature = value_of(page, psig_off, psig_member)
        owner = view.canonical(value_of(page, owner_off, owner_member))
        if signature != POOL_PAGE_SIGNATURE or owner != data_va:
            rejected += 1
            if rejected <= 3:
                warnings.append(f"{name}: tracker page {header:#x} rejected (Signature {signature:#x}, "
                                f"VerifierEntry {owner:#x}): its {per_page - 1} slots are unknown")
            continue
        accepted.append(header)
    if rejected > 3:
        warnings.append(f"{name}: {rejected} tracker pages rejected in all")
    short = page_head.depth != len(walk.items) & 0xFFFF
    if short and walk.complete:
        warnings.append(f"{name}: PoolPageHeaders: the SLIST depth says {page_head.depth} tracker pages, "
                        f"the NextPage chain holds {len(walk.items)}")
    if page_candidates and (not walk.complete or rejected or short or len(accepted) < len(walk.items)):
        seen = set(walk.items)
        found = []
        for candidate in page_candidates:
            if candidate in seen:
                continue
            try:
                page = pages.page(candidate)
            except MemoryAbsent:
                continue
            if (value_of(page, psig_off, psig_member) == POOL_PAGE_SIGNATURE
                    and view.canonical(value_of(page, owner_off, owner_member)) == data_va):
                found.append(candidate)
            else:
                pages.data.pop(candidate, None)
        if found:
            accepted += found
            warnings.append(f"{name}: the PoolPageHeaders chain is broken; {len(found)} more tracker pages "
                            "found among the big-pool table's 'Vepp' blocks (Signature and VerifierEntry "
                            "checked)")
    known_pages = set(walk.items) | set(accepted) | set(page_candidates)
    # free slots
    free_head = decode_slist_header(view, raw[trackers_off:trackers_off + slist_size], data_va + trackers_off)
    next_free_off, _ = member(view, "_VI_POOL_ENTRY", "NextFree")
    free_walk = walk_chain(free_head.first, lambda va: pages.pointer(va + next_free_off),
                           f"{name}: PoolTrackers", max(1, len(known_pages)) * (per_page - 1) + 16)
    warnings += free_walk.warnings
    if free_walk.complete and free_head.depth != len(free_walk.items) & 0xFFFF:
        warnings.append(f"{name}: PoolTrackers: the SLIST depth says {free_head.depth} free slots, the "
                        f"chain holds {len(free_walk.items)}")
    free = np.array(free_walk.items, dtype=np.uint64)
    accepted_set = set(accepted)
    outside = sum(1 for slot in free_walk.items if (slot & ~(PAGE - 1)) not in accepted_set)
    if outside:
        warnings.append(f"{name}: {outside} free-list entries lie outside the accepted tracker pages")
    # outstanding slots, decoded in one pass
    allocations = empty
    if accepted:
        blob = b"".join(pages.data[va] for va in accepted)
        count = len(accepted) * per_page
        values = columns(view, "_VI_POOL_ENTRY_INUSE", blob, count,
                         ["VirtualAddress", "CallingAddress", "NumberOfBytes", "Tag"], stride=entry_size)
        index = np.tile(np.arange(per_page, dtype=np.uint64), len(accepted))
        base = np.repeat(np.array(accepted, dtype=np.uint64), per_page)
        slot_va = base + index * np.uint64(entry_size)
        va = values["VirtualAddress"]
        # a free slot holds its free-list link (_VI_POOL_ENTRY.NextFree, at its own ISF
        # offset): the next free slot, inside a tracker page, where no tracked block can lie.
        # So slots linking into a tracker page are free even when the PoolTrackers chain is
        # broken before them.
        next_free = columns(view, "_VI_POOL_ENTRY", blob, count, ["NextFree"],
                            stride=entry_size)["NextFree"]
        link = (next_free != 0) & np.isin(canonical_array(view, next_free) & ~np.uint64(PAGE - 1),
                                          np.array(sorted(known_pages), dtype=np.uint64))
        outstanding = (index != 0) & (va != 0) & ~np.isin(slot_va, free) & ~link
        unlinked = int(np.count_nonzero((index != 0) & link & ~np.isin(slot_va, free)))
        if unlinked and not free_walk.complete:
            warnings.append(f"{name}: {unlinked} further slots hold a free-list link into a tracker page; "
                            "counted as free")
        n = int(outstanding.sum())
        allocations = np.zeros(n, ALLOC_DTYPE)
        allocations["slot"] = slot_va[outstanding]
        allocations["address"] = canonical_array(view, va[outstanding] & ~np.uint64(1))
        allocations["special"] = (va[outstanding] & np.uint64(1)) != 0
        allocations["caller"] = canonical_array(view, values["CallingAddress"][outstanding])
        allocations["length"] = values["NumberOfBytes"][outstanding]
        allocations["key"] = (values["Tag"][outstanding] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        allocations["header_pool_type"] = -1
        allocations = allocations[np.argsort(allocations["address"], kind="stable")]
        allocations, more = _drop_impossible_sizes(view, allocations, name)
        warnings += more
    current = sum(counters.get(m, 0) for m in ("CurrentPagedPoolAllocations",
                                               "CurrentNonPagedPoolAllocations"))
    if len(allocations) != current:
        warnings.append(f"{name}: {len(allocations)} outstanding tracker slots, but the driver's "
                        f"Current*PoolAllocations counters sum to {current}")
    if check_trailers and len(allocations):
        warnings += check_block_trailers(view, allocations, name)
    return VerifiedDriver(name, data_va, node, dll_base, range_size, True, counters, allocations,
                          tuple(accepted), rejected, len(free_walk.items), source, tuple(warnings))


def _drop_impossible_sizes(view: KernelView, allocations: np.ndarray,
                           name: str) -> tuple[np.ndarray, list[str]]:
    """Leave out tracked blocks whose NumberOfBytes runs past the end of the address space
    from their VirtualAddress, or that do not lie in kernel space (pool does): no such
    block exists, so the slot is corrupt (warning naming the first few)."""
    address, length = allocations["address"], allocations["length"]
    kernel = view.in_kernel_space_array(address)
    room = np.uint64(view.pointer_mask) - address + np.uint64(1)
    sound = kernel & (length <= room)
    bad = np.flatnonzero(~sound)
    if not len(bad):
        return allocations, []
    named = ", ".join(f"slot {int(allocations['slot'][i]):#x} (VirtualAddress {int(address[i]):#x}, "
                      f"NumberOfBytes {int(length[i]):#x})" for i in bad[:3])
    return allocations[sound], [f"{name}: {len(bad)} tracker slots hold a block outside kernel space "
                                f"or a NumberOfBytes past the end of the address space; left out: "
                                f"{named}{' ...' if len(bad) > 3 else ''}"]


def check_block_trailers(view: KernelView, allocations: np.ndarray, name: str) -> list[str]:
    """Fill ``allocations['trailer']`` (and ``header_pool_type`` for small blocks): the
    pointer at the end of each block should point back at its tracker slot (doc §3.6):
    page-aligned block: va + NumberOfBytes - ptr; small block: POOL_HEADER at va -
    sizeof(_POOL_HEADER), end = header + BlockSize * sizeof(_POOL_HEADER). Special-pool
    blocks (VirtualAddress bit 0) keep the trailer at offsets we do not model: skipped."""
    ptr = view.pointer_size
    header_size = view.layout("_POOL_HEADER").size
    block_off, block_member = member(view, "_POOL_HEADER", "BlockSize")
    type_off, type_member = member(view, "_POOL_HEADER", "PoolType")
    cache: dict[int, bytes | None] = {}

    def page(va: int) -> bytes | None:
        start = va & ~(PAGE - 1)
        if start not in cache:
            try:
                cache[start] = view.read(start, PAGE)
            except MemoryAbsent:
                cache[start] = None
        return cache[start]

    def pointer_at(va: int) -> int | None:
        data = page(va)
        offset = va & (PAGE - 1)
        if data is None or offset + ptr > PAGE:
            return None
        return view.canonical(int.from_bytes(data[offset:offset + ptr], "little"))

    mismatches: list[str] = []
    counts = {key: 0 for key in TRAILER_TEXT}
    rows = allocations.tolist()
    for position, (slot, address, special, _caller, length, _key, _t, _p) in enumerate(rows):
        if position >= MAX_TRAILER_CHECKS:
            break
        if special:
            allocations["trailer"][position] = TRAILER_SKIPPED
            counts[TRAILER_SKIPPED] += 1
            continue
        if address & (PAGE - 1) == 0:
            trailer = address + length - ptr
        else:
            header = address - header_size
            data = page(header)
            if data is None or (header & (PAGE - 1)) + header_size > PAGE:
                allocations["trailer"][position] = TRAILER_ABSENT
                counts[TRAILER_ABSENT] += 1
                continue
            raw = data[header & (PAGE - 1):(header & (PAGE - 1)) + header_size]
            pool_type = value_of(raw, type_off, type_member)
            allocations["header_pool_type"][position] = pool_type - 1 if pool_type else -1
            trailer = header + value_of(raw, block_off, block_member) * header_size - ptr
        value = pointer_at(trailer)
        if value is None:
            outcome = TRAILER_ABSENT
        elif value == view.canonical(slot):
            outcome = TRAILER_OK
        else:
            outcome = TRAILER_MISMATCH
            if len(mismatches) < 3:
                mismatches.append(f"{address:#x} (trailer at {trailer:#x} = {value:#x}, slot {slot:#x})")
        allocations["trailer"][position] = outcome
        counts[outcome] += 1
    warnings = []
    if counts[TRAILER_MISMATCH]:
        warnings.append(f"{name}: {counts[TRAILER_MISMATCH]} tracked blocks whose trailer does not "
                        f"point back at their tracker slot, e.g. {'; '.join(mismatches)}")
    if counts[TRAILER_ABSENT]:
        warnings.append(f"{name}: the trailers of {counts[TRAILER_ABSENT]} tracked blocks are absent "
                        "from the dump (unchecked)")
    if len(rows) > MAX_TRAILER_CHECKS:
        warnings.append(f"{name}: only the first {MAX_TRAILER_CHECKS} of {len(rows)} trailers checked")
    return warnings


def read_verifier(view: KernelView, modules: tuple[Module, ...] | list[Module] = (),
                  extra_driver_data: tuple[tuple[int, str | None], ...] = (),
                  check_trailers: bool = True,
                  tracker_page_candidates: tuple[int, ...] = ()) -> VerifierState:
    """The whole verifier state. ``extra_driver_data``: (VerifiedData VA, name hint)
    pairs found elsewhere, e.g. bug check 0xC4/0x62 parameter 3 (doc §3.5).
    ``tracker_page_candidates``: where tracker pages may be when a driver's page chain is
    broken (the engine passes the big-pool table's live 'Vepp' blocks)."""
    warnings: list[str] = []
    try:
        address, stats = read_verifier_globals(view)
    except MemoryAbsent:
        address, stats = view.symbol("MmVerifierData"), {}
        warnings.append("MmVerifierData is absent from the dump: Driver Verifier's level and "
                        "statistics are unknown")
    level = stats.get("Level", 0)
    suspects, more = read_suspects(view)
    warnings += more
    by_base = {m.base: m for m in modules}
    # the AVL tree of loaded verified drivers
    tree_type = "_VF_AVL_TREE"
    tree_va = view.symbol("ViTargetDriversAvl")
    try:
        tree = view.read(tree_va, view.layout(tree_type).size)
    except MemoryAbsent:
        warnings.append("ViTargetDriversAvl is absent from the dump: the loaded verified drivers "
                        "are unknown")
        tree = bytes(view.layout(tree_type).size)
    tables_off, tables_member = member(view, tree_type, "Tables")
    tables_no_off, tables_no_member = member(view, tree_type, "TablesNo")
    tables = view.canonical(value_of(tree, tables_off, tables_member))
    tables_no = value_of(tree, tables_no_off, tables_no_member)
    node_count = None
    if "NodeCount" in view.layout(tree_type).members:
        count_off, count_member = member(view, tree_type, "NodeCount")
        node_count = value_of(tree, count_off, count_member)
    if tables_no > MAX_AVL_TABLES:
        warnings.append(f"ViTargetDriversAvl: TablesNo {tables_no:#x} is implausible; only "
                        f"{MAX_AVL_TABLES} tables walked")
    table_size = view.layout("_VF_AVL_TABLE").size
    root_off, _ = member(view, "_VF_AVL_TABLE", "RtlTable.BalancedRoot.RightChild")
    payload = avl_payload_offset(view)
    _, p_off, p_member = first_member(view, "_VF_TARGET_DRIVER", "TreeNode.p", "TreeNode.Base.p")
    _, range_off, range_member = first_member(view, "_VF_TARGET_DRIVER", "TreeNode.RangeSize",
                                              "TreeNode.Base.RangeSize")
    data_off, _ = member(view, "_VF_TARGET_DRIVER", "VerifiedData")
    target_size = view.layout("_VF_TARGET_DRIVER").size
    nodes: list[int] = []
    if tables:
        wanted = min(tables_no, MAX_AVL_TABLES)
        missing: list[int] = []
        for index in range(wanted):
            table_va = view.canonical((tables + index * table_size) & view.pointer_mask)
            try:
                root = view.canonical(view.read_pointer(table_va + root_off))
            except MemoryAbsent:
                missing.append(index)
                if len(missing) <= MAX_ABSENT_AVL_TABLES:
                    warnings.append(f"ViTargetDriversAvl: table {index} at {table_va:#x} absent from "
                                    "the dump")
                if len(missing) == MAX_ABSENT_AVL_TABLES and index + 1 < wanted:
                    warnings.append(f"ViTargetDriversAvl: {MAX_ABSENT_AVL_TABLES} tables absent from "
                                    f"the dump; Tables ({tables:#x}) or TablesNo ({tables_no:#x}) is "
                                    f"likely corrupt: tables {index + 1}..{wanted - 1} not walked")
                    break
                continue
            walk = avl_inorder(view, root, f"ViTargetDriversAvl table {index}",
                               MAX_AVL_NODES - len(nodes))
            warnings += walk.warnings
            nodes += walk.items
    elif tables_no:
        warnings.append(f"ViTargetDriversAvl: TablesNo is {tables_no} but Tables is NULL")
    if node_count is not None and node_count != len(nodes):
        warnings.append(f"ViTargetDriversAvl: {len(nodes)} nodes walked, NodeCount says {node_count}")
    drivers: list[VerifiedDriver] = []
    seen_data: set[int] = set()
    for node in nodes:
        try:
            target = view.read(node + payload, target_size)
        except MemoryAbsent:
            warnings.append(f"ViTargetDriversAvl: node payload {node + payload:#x} absent from the dump")
            continue
        base = view.canonical(value_of(target, p_off, p_member))
        range_size = value_of(target, range_off, range_member)
        data_va = view.canonical(value_of(target, data_off, view.layout("_VF_TARGET_DRIVER")
                                          .members["VerifiedData"]))
        module = by_base.get(base)
        if modules and module is None:
            warnings.append(f"ViTargetDriversAvl: node {node:#x} key {base:#x} is not the DllBase of "
                            "any loaded module")
        name = None
        if data_va:
            name = _data_suspect_name(view, data_va)
        name = name or (module.name if module else f"driver_{base:x}")
        if not data_va or data_va in seen_data:
            if not data_va:
                warnings.append(f"{name}: AVL node {node:#x} has no VerifiedData")
            continue
        seen_data.add(data_va)
        drivers.append(read_driver_data(view, data_va, name=name, node=node, dll_base=base,
                                        range_size=range_size, check_trailers=check_trailers,
                                        page_candidates=tracker_page_candidates))
    for data_va, hint in extra_driver_data:
        data_va = view.canonical(data_va)
        if not data_va or data_va in seen_data:
            continue
        seen_data.add(data_va)
        name = _data_suspect_name(view, data_va) or hint or f"driver_data_{data_va:x}"
        drivers.append(read_driver_data(view, data_va, name=name, source="bugcheck",
                                        check_trailers=check_trailers,
                                        page_candidates=tracker_page_candidates))
    for driver in drivers:
        warnings += driver.warnings
    return VerifierState(address, level, stats, tuple(suspects), tuple(drivers), node_count,
                         tables_no, len(nodes), tuple(warnings), bool(stats))


def _data_suspect_name(view: KernelView, data_va: int) -> str | None:
    """The configured name a driver data block points at (SuspectDriverEntry)."""
    try:
        entry = view.read_pointer(data_va + member(view, "_VF_TARGET_VERIFIED_DRIVER_DATA",
                                                   "SuspectDriverEntry")[0])
    except (MemoryAbsent, SymbolTableError):
        return None
    return suspect_name(view, view.canonical(entry))
