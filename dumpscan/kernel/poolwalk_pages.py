"""Walk the pool pages of Windows 7 and 8.1 (before the segment heap): every small block.

Blocks tile each pool page behind POOL_HEADERs: the first has PreviousSize 0, the next
one starts BlockSize units further (a unit is sizeof(_POOL_HEADER)) and its
PreviousSize is the previous BlockSize; PoolType 0 is a free block, which keeps its tag
(../shared/design/segment-heap-pool.md §8, V); an allocated block's PoolType is
(type & 0x69) + 1, paged iff its page is (WRK pool.c). A page counts as a pool page
when its chain validates so from the first header to the page end; a chain that starts well and
breaks is a decode failure (the blocks before the break are kept, with a warning).

Where the pool pages are (§8): Windows 7 x64 from ``MmNonPagedPoolStart`` ..
``MiNonPagedPoolEnd`` and, for paged pool, the ``MmSizeOfPagedPoolInBytes`` bytes that
end at ``MmPagedPoolEnd`` (the start is not in the ISF; MODEL); x86 from
``MiSystemVaType``, one _MI_SYSTEM_VA_TYPE byte per 2 MiB of system space from
``MmSystemRangeStart`` (MiVaNonPagedPool / MiVaPagedPool from the ISF's enum). Only the
pages the page tables map are read, and pages inside live big-pool blocks are skipped
(their content has no headers).

Bounded: at most MAX_POOL_PAGES pages, read CHUNK_PAGES at a time; each page's chain
at most page / unit steps, all pages of a chunk decoded together with numpy.
"""
from __future__ import annotations

import numpy as np

from ..symbols.isf import SymbolTableError
from .common import columns, read_global
from .poolblocks import BLOCK_DTYPE, NONPAGED, PAGE_CHAIN, PAGED, SESSION, WalkLog
from .view import PAGE, KernelView, MemoryAbsent

MAX_POOL_PAGES = 1 << 22  # 16 GiB of small-block pool pages
CHUNK_PAGES = 4096  # 16 MiB read and decoded at a time
VA_TYPE_REGION = 0x200000  # one MiSystemVaType byte per 2 MiB (PAE), §8
SESSION_BIT = 0x20  # _POOL_TYPE session bit, kept in the header's PoolType - 1
# An allocated block's PoolType is (type & 0x69) + 1 (WRK pool.c): other bits, or a
# paged bit that contradicts the page's pool, mean the bytes are no POOL_HEADER.
LEGACY_POOL_TYPE_MASK = 0x69


def pool_regions(view: KernelView, log: WalkLog) -> list[tuple[int, int, bool]]:
    """(start, end, paged) of the pool's virtual-address regions."""
    names = ("MmNonPagedPoolStart", "MiNonPagedPoolEnd", "MmPagedPoolEnd", "MmSizeOfPagedPoolInBytes")
    if all(view.has_symbol(n) for n in names):
        start, end, paged_end, paged_size = (view.canonical(read_global(view, n)) if i < 3 else
                                             read_global(view, n) for i, n in enumerate(names))
        regions = [(start, end + 1, False), (paged_end + 1 - paged_size, paged_end + 1, True)]
    elif view.has_symbol("MiSystemVaType") and view.has_symbol("MmSystemRangeStart"):
        regions = _va_type_regions(view)
    else:
        log.fail("root", "pool walk: the symbols give no pool address ranges "
                         "(MmNonPagedPoolStart/MiNonPagedPoolEnd/MmPagedPoolEnd or MiSystemVaType)")
        return []
    good = []
    for start, end, paged in regions:
        if not (view.in_kernel_space(start) and start < end <= view.pointer_mask + 1):
            log.fail("root", f"pool walk: {'paged' if paged else 'nonpaged'} pool range "
                             f"{start:#x}..{end:#x} is not a kernel range; not walked")
            continue
        good.append((start, end, paged))
    return good


def _va_type_regions(view: KernelView) -> list[tuple[int, int, bool]]:
    enum = view.symbols.document.get("enums", {}).get("_MI_SYSTEM_VA_TYPE", {}).get("constants", {})
    if "MiVaNonPagedPool" not in enum or "MiVaPagedPool" not in enum:
        raise SymbolTableError("the symbol table has no _MI_SYSTEM_VA_TYPE pool constants")
    system = read_global(view, "MmSystemRangeStart")
    count = (view.pointer_mask + 1 - system) // VA_TYPE_REGION
    types = np.frombuffer(view.read(view.symbol("MiSystemVaType"), count), np.uint8)
    regions: list[tuple[int, int, bool]] = []
    for value, paged in ((enum["MiVaNonPagedPool"], False), (enum["MiVaPagedPool"], True)):
        hits = np.flatnonzero(types == value)
        if not hits.size:
            continue
        breaks = np.flatnonzero(np.diff(hits) != 1)
        for lo, hi in zip(np.concatenate(([0], breaks + 1)), np.concatenate((breaks, [hits.size - 1]))):
            regions.append((system + int(hits[lo]) * VA_TYPE_REGION,
                            system + (int(hits[hi]) + 1) * VA_TYPE_REGION, paged))
    return sorted(regions)


def walk_pool_pages(view: KernelView, log: WalkLog, big: np.ndarray) -> list[np.ndarray]:
    """Every block of every pool page; ``big``: the live big-pool blocks (BLOCK_DTYPE),
    whose pages are not small-block pages."""
    try:
        regions = pool_regions(view, log)
    except (MemoryAbsent, SymbolTableError) as exc:
        log.fail("root", f"pool walk: cannot read the pool ranges ({exc})")
        return []
    order = np.argsort(big["address"])
    big_start = big["address"][order]
    big_end = big_start + big["size"][order]
    unit = view.layout("_POOL_HEADER").size
    parts: list[np.ndarray] = []
    budget = MAX_POOL_PAGES
    for start, end, paged in regions:
        pages = np.array(view.mapped_pages(start, end - start, budget + 1), dtype=np.uint64)
        if len(pages) > budget:
            log.fail("bound", f"pool walk: more than {MAX_POOL_PAGES} pool pages; the rest not walked")
            pages = pages[:budget]
        budget -= len(pages)
        inside = np.searchsorted(big_start, pages, side="right") - 1
        covered = (inside >= 0) & (pages < big_end[np.maximum(inside, 0)])
        pages = pages[~covered]
        log.count("pages_mapped", len(pages))
        for first in range(0, len(pages), CHUNK_PAGES):
            parts += _walk_chunk(view, log, pages[first:first + CHUNK_PAGES], paged, unit)
    return parts


def _walk_chunk(view: KernelView, log: WalkLog, pages: np.ndarray, paged: bool,
                unit: int) -> list[np.ndarray]:
    data = bytearray(len(pages) * PAGE)
    present = np.ones(len(pages), bool)
    for i, page in enumerate(pages.tolist()):
        try:
            data[i * PAGE:(i + 1) * PAGE] = view.read(page, PAGE)
        except MemoryAbsent:
            present[i] = False
    log.count("pages_absent", int((~present).sum()))
    raw = np.frombuffer(bytes(data), np.uint8).reshape(len(pages), PAGE)
    active = np.flatnonzero(present)
    position = np.zeros(len(pages), np.int64)
    previous = np.zeros(len(pages), np.uint64)
    started = np.zeros(len(pages), bool)
    found: list[tuple[np.ndarray, ...]] = []
    for _ in range(PAGE // unit):
        if not active.size:
            break
        at = position[active]
        headers = raw[active[:, None], at[:, None] + np.arange(unit)]
        h = columns(view, "_POOL_HEADER", headers.tobytes(), len(active),
                    ["PreviousSize", "BlockSize", "PoolType", "PoolTag"])
        size = h["BlockSize"].astype(np.int64) * unit
        pool_type = h["PoolType"].astype(np.int64) - 1  # -1: free
        wrong_type = (pool_type >= 0) & (((pool_type & ~LEGACY_POOL_TYPE_MASK) != 0)
                                         | ((pool_type & 1) != int(paged)))
        bad = (h["PreviousSize"] != previous[active]) | (size == 0) | (at + size > PAGE) | wrong_type
        broken = active[bad & started[active]]
        for page in broken.tolist():
            log.fail("page_chain", f"pool walk: pool page {int(pages[page]):#x}: header chain "
                                   f"breaks at +{int(position[page]):#x}; the blocks before it kept")
        log.count("pages_not_pool", int((bad & ~started[active]).sum()))
        good = ~bad
        found.append((active[good], at[good], size[good], h["PoolType"][good], h["PoolTag"][good]))
        started[active[good]] = True
        position[active] += np.where(good, size, 0)
        previous[active] = h["BlockSize"]
        active = active[good & (position[active] < PAGE)]
    if not found:
        return []
    page_index, offset, size, pool_type, tag = (np.concatenate(c) for c in zip(*found))
    log.count("pool_pages", int(np.unique(page_index).size))
    out = np.zeros(len(page_index), BLOCK_DTYPE)
    out["address"] = pages[page_index] + offset.astype(np.uint64) + np.uint64(unit)
    out["size"] = size
    out["key"] = tag
    allocated = pool_type != 0
    session = allocated & (((pool_type - np.uint64(1)) & np.uint64(SESSION_BIT)) != 0)
    out["pool"] = np.where(session, SESSION, PAGED if paged else NONPAGED)
    out["paged"] = paged
    out["allocated"] = allocated
    out["source"] = PAGE_CHAIN
    return [out]
