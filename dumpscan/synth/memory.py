"""Physical memory and page tables of a synthetic machine.

Physical memory is sparse: only pages that hold something are stored. Page tables
follow the hardware formats (Intel SDM vol. 3A, ch. 4: 4-level paging for x64,
PAE paging for 32-bit Windows 8.1) with the self-referencing entry Windows keeps:

* x64: one PML4 entry points at the PML4 itself. Windows 7/8.1 use index 0x1ED;
  Windows 10 1607+ randomizes it (the factory takes it from the scenario).
  [Volatility3 automagic/windows.py scans for exactly this; pitfalls doc §2-3]
* x86 PAE: the four page directories follow the PDPT page, and PD3 entries 0-3
  point at PD0..PD3, so PD3[3] points at itself (PTEs mapped at 0xC0000000,
  PDEs at 0xC0600000). [Volatility3 PAE self-reference test; pitfalls doc]
"""
from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import Iterator

PAGE = 0x1000

# Page-table entry bits (Intel SDM vol. 3A, tables 4-14..4-19).
PRESENT, WRITABLE, USER, ACCESSED, DIRTY, GLOBAL = 0x1, 0x2, 0x4, 0x20, 0x40, 0x100
NO_EXECUTE = 1 << 63
KERNEL_TABLE = PRESENT | WRITABLE | ACCESSED | DIRTY  # 0x63, as Windows writes them
KERNEL_DATA = KERNEL_TABLE | GLOBAL | NO_EXECUTE
KERNEL_CODE = KERNEL_TABLE | GLOBAL
USER_READONLY = PRESENT | USER | ACCESSED | NO_EXECUTE


class PhysicalMemory:
    """Sparse physical pages, handed out in order from a list of free ranges."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        """``ranges``: (first_pfn, page_count) pieces of RAM to allocate from, in order."""
        self.pages: dict[int, bytearray] = {}
        self._ranges = list(ranges)
        self._range_index = 0
        self._next = ranges[0][0]
        self._reserved: set[int] = set()

    def reserve(self, pfn: int) -> bytearray:
        """Claim a page at a fixed frame number (the DTB, the low stub)."""
        if pfn in self.pages:
            raise ValueError(f"page frame {pfn:#x} already in use")
        self._reserved.add(pfn)
        self.pages[pfn] = bytearray(PAGE)
        return self.pages[pfn]

    def allocate(self) -> int:
        """The next free page frame (zero-filled)."""
        while True:
            first, count = self._ranges[self._range_index]
            if self._next >= first + count:
                self._range_index += 1
                if self._range_index == len(self._ranges):
                    raise MemoryError("synthetic machine out of physical memory")
                self._next = self._ranges[self._range_index][0]
                continue
            pfn = self._next
            self._next += 1
            if pfn not in self.pages:
                self.pages[pfn] = bytearray(PAGE)
                return pfn

    def write(self, pa: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            pfn, offset = divmod(pa, PAGE)
            chunk = view[: PAGE - offset]
            self.pages[pfn][offset:offset + len(chunk)] = chunk
            view = view[len(chunk):]
            pa += len(chunk)

    def read(self, pa: int, length: int) -> bytes:
        out = bytearray()
        while length:
            pfn, offset = divmod(pa, PAGE)
            chunk = min(length, PAGE - offset)
            out += self.pages[pfn][offset:offset + chunk]
            pa += chunk
            length -= chunk
        return bytes(out)

    def sorted_pages(self, exclude: set[int] = frozenset()) -> Iterator[tuple[int, bytes]]:
        """(pfn, bytes) in increasing frame order, for the dump writer."""
        for pfn in sorted(self.pages):
            if pfn not in exclude:
                yield pfn, bytes(self.pages[pfn])


class AddressSpace(ABC):
    """Kernel virtual address space over :class:`PhysicalMemory`."""

    pointer_size = 8

    def __init__(self, memory: PhysicalMemory) -> None:
        self.memory = memory
        self.dtb = 0
        self._mapped: dict[int, int] = {}  # virtual page -> pfn

    # -- mapping -------------------------------------------------------------
    @abstractmethod
    def map_page(self, va: int, pfn: int, flags: int = KERNEL_DATA) -> None:
        """Point the page-table entry of ``va`` at frame ``pfn``."""

    def is_mapped(self, va: int) -> bool:
        return (va & ~(PAGE - 1)) in self._mapped

    def map(self, va: int, size: int, flags: int = KERNEL_DATA) -> None:
        """Back every page of [va, va+size) that is not mapped yet with a new frame."""
        page = va & ~(PAGE - 1)
        while page < va + size:
            if page not in self._mapped:
                self.map_page(page, self.memory.allocate(), flags)
            page += PAGE

    def translate(self, va: int) -> int:
        return self._mapped[va & ~(PAGE - 1)] * PAGE + (va & (PAGE - 1))

    def write(self, va: int, data: bytes, flags: int = KERNEL_DATA) -> None:
        """Write bytes at a virtual address, mapping missing pages first."""
        self.map(va, len(data), flags)
        view = memoryview(data)
        while view:
            chunk = view[: PAGE - (va & (PAGE - 1))]
            self.memory.write(self.translate(va), chunk)
            view = view[len(chunk):]
            va += len(chunk)

    def read(self, va: int, length: int) -> bytes:
        out = bytearray()
        while length:
            chunk = min(length, PAGE - (va & (PAGE - 1)))
            out += self.memory.read(self.translate(va), chunk)
            va += chunk
            length -= chunk
        return bytes(out)

    def mapped_pages(self) -> dict[int, int]:
        return dict(self._mapped)

    @abstractmethod
    def page_table_window(self) -> tuple[int, int]:
        """(start, size) of the virtual range the self-referencing entry maps the page
        tables into: nothing else may live there."""


class X64AddressSpace(AddressSpace):
    """4-level paging with a self-referencing PML4 entry."""

    pointer_size = 8

    def __init__(self, memory: PhysicalMemory, dtb_pfn: int, self_ref_index: int) -> None:
        super().__init__(memory)
        self.dtb = dtb_pfn * PAGE
        self.self_ref_index = self_ref_index
        memory.reserve(dtb_pfn)
        self._set_entry(self.dtb, self_ref_index, self.dtb | KERNEL_TABLE)

    @staticmethod
    def canonical(va: int) -> int:
        va &= (1 << 64) - 1
        return va | 0xFFFF000000000000 if va & (1 << 47) else va & 0x0000FFFFFFFFFFFF

    def page_table_window(self) -> tuple[int, int]:
        return self.canonical(self.self_ref_index << 39), 1 << 39

    def _entry(self, table: int, index: int) -> int:
        return struct.unpack_from("<Q", self.memory.pages[table // PAGE], index * 8)[0]

    def _set_entry(self, table: int, index: int, value: int) -> None:
        struct.pack_into("<Q", self.memory.pages[table // PAGE], index * 8, value)

    def map_page(self, va: int, pfn: int, flags: int = KERNEL_DATA) -> None:
        va = self.canonical(va)
        table = self.dtb
        user = bool(flags & USER)
        for shift in (39, 30, 21):
            index = (va >> shift) & 0x1FF
            entry = self._entry(table, index)
            if not entry & PRESENT:
                child = self.memory.allocate() * PAGE
                entry = child | KERNEL_TABLE | (USER if user else 0)
                self._set_entry(table, index, entry)
            table = entry & 0x000FFFFFFFFFF000
        self._set_entry(table, (va >> 12) & 0x1FF, pfn * PAGE | flags)
        self._mapped[va & ~(PAGE - 1)] = pfn


class PaeAddressSpace(AddressSpace):
    """x86 PAE paging: PDPT page followed by its four page directories."""

    pointer_size = 4

    def __init__(self, memory: PhysicalMemory, dtb_pfn: int) -> None:
        super().__init__(memory)
        self.dtb = dtb_pfn * PAGE
        memory.reserve(dtb_pfn)
        directories = [(dtb_pfn + 1 + i) * PAGE for i in range(4)]
        for i, directory in enumerate(directories):
            memory.reserve(directory // PAGE)
            # PDPT entries carry only the present bit (Intel SDM 4.4.1).
            struct.pack_into("<Q", memory.pages[dtb_pfn], i * 8, directory | PRESENT)
        for i, directory in enumerate(directories):  # PDE self-map at 0xC0600000
            struct.pack_into("<Q", memory.pages[directories[3] // PAGE], i * 8,
                             directory | KERNEL_TABLE)
        self._directories = directories

    def page_table_window(self) -> tuple[int, int]:
        return 0xC0000000, 0x800000  # PTEs of all 4 GiB (8-byte entries), the PDEs at 0xC0600000

    def map_page(self, va: int, pfn: int, flags: int = KERNEL_DATA) -> None:
        va &= 0xFFFFFFFF
        directory = self._directories[va >> 30]
        index = (va >> 21) & 0x1FF
        pde = struct.unpack_from("<Q", self.memory.pages[directory // PAGE], index * 8)[0]
        if not pde & PRESENT:
            pde = self.memory.allocate() * PAGE | KERNEL_TABLE | (flags & USER)
            struct.pack_into("<Q", self.memory.pages[directory // PAGE], index * 8, pde)
        table = pde & 0x000FFFFFFFFFF000
        struct.pack_into("<Q", self.memory.pages[table // PAGE], ((va >> 12) & 0x1FF) * 8,
                         pfn * PAGE | flags)
        self._mapped[va & ~(PAGE - 1)] = pfn
