"""The kernel pool before the segment heap (Windows 7, 8.1): small blocks tiling whole
pool pages behind POOL_HEADERs, and those pages laid out in memory.

Facts (../shared/design/segment-heap-pool.md §8; docs/factory.md):
* blocks tile each page; the first block has PreviousSize 0, the next one starts
  BlockSize units further and its PreviousSize is this block's BlockSize; units are
  the header size (16 bytes x64, 8 bytes x86) (V [Uninformed v4, MT, WD]);
* PoolType 0 = free, a free block keeps its tag (V [V3, WD]); an allocated block has
  PoolType = (type & 0x69) + 1 (WRK pool.c, as the factory always wrote it);
* a request is small up to POOL_BUDDY_MAX = page - 2 headers (WRK pool.h), so BlockSize
  always fits its field;
* freeing merges a block with free neighbours (the lower header survives); allocation
  is first fit over the pages of the pool, splitting the free block (MODEL for the
  order; WRK keeps per-size free lists).
* Not modelled: the descriptors' free lists and lookaside lists (§8), session pool.
"""
from __future__ import annotations

from dataclasses import dataclass

from .machine import Machine
from .pool import PAGE, Arena, Block
from .tiling import Piece, TiledRun

LEGACY_POOL_TYPE_MASK = 0x69


@dataclass
class PoolPage:
    va: int
    kind: str  # "paged" / "nonpaged"
    run: TiledRun


class PoolPages:
    """Places small blocks in pool pages; ``PoolModel`` calls ``take`` and ``record``
    for each small allocation and ``release`` for each free."""

    walk = "pool-pages"

    def __init__(self, arenas: dict[str, int], pointer_size: int) -> None:
        self.arenas = {"paged": Arena(arenas["paged_small"]),
                       "nonpaged": Arena(arenas["nonpaged_small"])}
        self.unit = 0x10 if pointer_size == 8 else 8  # sizeof(_POOL_HEADER)
        self.pages: dict[str, list[PoolPage]] = {"paged": [], "nonpaged": []}
        self._placed: dict[int, tuple[PoolPage, Piece]] = {}
        self._pending: tuple[PoolPage, Piece] | None = None

    def is_small(self, size: int) -> bool:
        return size <= PAGE - 2 * self.unit

    def take(self, size: int, pool_type: int, cpu: int) -> tuple[int, int]:
        """(caller VA, block bytes) for a small request."""
        kind = "paged" if pool_type & 1 else "nonpaged"
        total = -(-(size + self.unit) // self.unit) * self.unit
        for page in self.pages[kind]:
            piece = page.run.take(total)
            if piece is not None:
                break
        else:
            page = PoolPage(self.arenas[kind].take(PAGE), kind, TiledRun(0, PAGE, self.unit))
            self.pages[kind].append(page)
            piece = page.run.take(total)
        self._pending = (page, piece)
        return page.va + piece.offset + self.unit, piece.size

    def record(self, block: Block) -> None:
        page, piece = self._pending
        piece.block = block
        self._placed[block.va] = (page, piece)

    def release(self, block: Block) -> None:
        """Free a block; a page left with one free block is given back (WRK frees
        a pool page that becomes entirely free)."""
        page, piece = self._placed.pop(block.va)
        page.run.release(piece)
        if len(page.run.pieces) == 1:
            self.pages[page.kind].remove(page)
            self.arenas[page.kind].give_back(page.va, PAGE)

    def blocks(self) -> list[tuple[int, int, Block | None, str, bool]]:
        """(caller VA, block bytes, block or None, pool, allocated) of every block of
        every page's chain, free ones included."""
        return [(page.va + piece.offset + self.unit, piece.size, piece.block, page.kind,
                 piece.allocated)
                for pages in self.pages.values() for page in pages for piece in page.run.pieces]


class PoolPagesWriter:
    def __init__(self, machine: Machine, pool: PoolPages) -> None:
        self.m = machine
        self.pool = pool

    def write(self) -> None:
        """Each page mapped whole and its headers written one by one (the blocks'
        contents are already in place)."""
        unit = self.pool.unit
        for pages in self.pool.pages.values():
            for page in pages:
                self.m.space.map(page.va, PAGE)
                previous = 0
                for piece in page.run.pieces:
                    block = piece.block
                    self.m.write_struct(page.va + piece.offset, "_POOL_HEADER", {
                        "PreviousSize": previous, "BlockSize": piece.size // unit,
                        "PoolType": ((block.pool_type & LEGACY_POOL_TYPE_MASK) + 1
                                     if piece.allocated else 0),
                        "PoolTag": block.key if block is not None else 0})
                    previous = piece.size // unit


# Where Windows 7 x64 keeps its pools (MODEL values inside the documented x64 system
# regions: PFN database from 0xFFFFFA8000000000, paged pool 0xFFFFF8A000000000 -
# 0xFFFFF8BFFFFFFFFF, 128 GiB at most [Windows Internals 6th ed., x64 address space]).
WIN7_NONPAGED_START = 0xFFFFFA8001800000
WIN7_NONPAGED_END = 0xFFFFFA80FFFFFFFF
WIN7_PAGED_END = 0xFFFFF8BFFFFFFFFF
WIN7_PAGED_SIZE = 0x2000000000
VA_TYPE_REGION = 0x200000  # one MiSystemVaType entry per 2 MiB (PAE), §8


def write_pool_ranges(machine: Machine, spans: list[tuple[int, int, str]]) -> None:
    """The globals a pool-page walk finds the pools by (§8): on Windows 7 x64 the
    nonpaged range (MmNonPagedPoolStart, MiNonPagedPoolEnd) and the paged range's end and
    size (MmPagedPoolEnd, MmSizeOfPagedPoolInBytes); on x86 the MiSystemVaType byte of
    every 2 MiB region holding pool (``spans``: (start, end, "paged"/"nonpaged"))."""
    symbols = machine.platform.symbols
    if "MmNonPagedPoolStart" in symbols:
        machine.write_pointer(machine.symbol("MmNonPagedPoolStart"), WIN7_NONPAGED_START)
        machine.write_pointer(machine.symbol("MiNonPagedPoolEnd"), WIN7_NONPAGED_END)
        machine.write_pointer(machine.symbol("MmPagedPoolEnd"), WIN7_PAGED_END)
        machine.write_pointer(machine.symbol("MmSizeOfPagedPoolInBytes"), WIN7_PAGED_SIZE)
    if "MiSystemVaType" in symbols:
        start = 0x80000000
        constants = machine.platform.enums["_MI_SYSTEM_VA_TYPE"].constants
        types = bytearray((0x100000000 - start) // VA_TYPE_REGION)
        for first, end, kind in spans:
            value = constants["MiVaPagedPool" if kind == "paged" else "MiVaNonPagedPool"]
            for region in range((first - start) // VA_TYPE_REGION,
                                (end - 1 - start) // VA_TYPE_REGION + 1):
                types[region] = value
        machine.write_pointer(machine.symbol("MmSystemRangeStart"), start)
        machine.write(machine.symbol("MiSystemVaType"), bytes(types))
