"""KernelView: the one seam between where bytes come from and what they mean.

Readers in this package take a :class:`KernelView` and return plain records. A
view reads kernel virtual memory (raising :class:`MemoryAbsent` for a page the dump
does not hold, never inventing zeros) and answers symbol and type-layout questions
from the kernel's symbol table. It is built over a Volatility layer (``dumpscan.vol``)
or, in unit tests, over a few hand-made byte buffers.
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import numpy as np

from ..symbols.isf import SymbolTable, TypeLayout

PAGE = 0x1000
# Lowest kernel-space address: x64 canonical upper half; x86 system space from 2 GB
# (the /3GB boot option only raises it, so this bound never rejects a kernel address).
KERNEL_SPACE_START = {8: 0xFFFF800000000000, 4: 0x80000000}


class MemoryAbsent(Exception):
    """A virtual address whose page is not mapped or not in the dump."""

    def __init__(self, address: int, length: int = 1) -> None:
        super().__init__(f"memory at {address:#x} (+{length:#x}) is not in the dump")
        self.address = address
        self.length = length


class KernelView:
    """Kernel virtual memory plus the kernel's symbol table."""

    def __init__(self, read: Callable[[int, int], bytes], symbols: SymbolTable,
                 kernel_base: int,
                 mapping: Callable[[int, int], Iterator[tuple[int, int]]] | None = None) -> None:
        """``read(va, length)`` returns exactly ``length`` bytes or raises MemoryAbsent;
        ``mapping(va, length)`` (optional) yields the (va, length) runs of the range the
        page tables map, so that a sparse range is enumerated without reading it."""
        self._read = read
        self._mapping = mapping
        self.symbols = symbols
        self.kernel_base = kernel_base
        self.pointer_size = symbols.pointer_size
        self._pointer_format = "<Q" if self.pointer_size == 8 else "<I"

    # -- memory --------------------------------------------------------------------------
    def read(self, va: int, length: int) -> bytes:
        return self._read(va, length)

    def read_pages(self, va: int, length: int) -> tuple[bytearray, list[tuple[int, int]]]:
        """Read a range page by page: (bytes with absent pages zero-filled, absent
        (start, end) offset ranges). For bulk tables where partial results are sound;
        the caller must report the absent ranges, never treat them as data."""
        out = bytearray(length)
        absent: list[tuple[int, int]] = []
        position = 0
        while position < length:
            chunk = min(length - position, PAGE - ((va + position) & (PAGE - 1)))
            try:
                out[position:position + chunk] = self._read(va + position, chunk)
            except MemoryAbsent:
                if absent and absent[-1][1] == position:
                    absent[-1] = (absent[-1][0], position + chunk)
                else:
                    absent.append((position, position + chunk))
            position += chunk
        return out, absent

    def mapped_pages(self, va: int, length: int, limit: int) -> list[int]:
        """The page addresses of [va, va + length) that are mapped, at most ``limit`` of
        them (without a page-table mapping: the pages that can be read)."""
        pages: list[int] = []
        if self._mapping is not None:
            for start, size in self._mapping(va, length):
                first = self.canonical(start) & ~(PAGE - 1)
                for page in range(first, self.canonical(start) + size, PAGE):
                    if len(pages) >= limit:
                        return pages
                    pages.append(page)
            return pages
        for page in range(va & ~(PAGE - 1), va + length, PAGE):
            if len(pages) >= limit:
                break
            try:
                self._read(page, 1)
                pages.append(page)
            except MemoryAbsent:
                continue
        return pages

    def read_pointer(self, va: int) -> int:
        return struct.unpack(self._pointer_format, self._read(va, self.pointer_size))[0]

    def read_uint(self, va: int, size: int) -> int:
        return int.from_bytes(self._read(va, size), "little")

    def canonical(self, va: int) -> int:
        """Sign-extend a 48-bit x64 address, as the debugger prints it."""
        if self.pointer_size == 8 and va & (1 << 47):
            return va | 0xFFFF000000000000
        return va

    @property
    def kernel_space_start(self) -> int:
        return KERNEL_SPACE_START[self.pointer_size]

    @property
    def pointer_mask(self) -> int:
        return (1 << (8 * self.pointer_size)) - 1

    def in_kernel_space(self, va: int) -> bool:
        return self.kernel_space_start <= int(va) <= self.pointer_mask

    def in_kernel_space_array(self, values: np.ndarray) -> np.ndarray:
        values = values.astype(np.uint64, copy=False)
        return (values >= np.uint64(self.kernel_space_start)) & (values <= np.uint64(self.pointer_mask))

    # -- symbols -------------------------------------------------------------------------
    def symbol(self, name: str) -> int:
        """Virtual address of a kernel symbol."""
        return self.canonical(self.kernel_base + self.symbols.rva(name))

    def has_symbol(self, name: str) -> bool:
        return name in self.symbols.symbols

    def layout(self, type_name: str) -> TypeLayout:
        return self.symbols.layout(type_name)

    def has_type(self, type_name: str) -> bool:
        return self.symbols.has_type(type_name)
