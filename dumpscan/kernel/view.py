"""KernelView: the one seam between where bytes come from and what they mean.

Readers in this package take a :class:`KernelView` and return plain records. A
view reads kernel virtual memory (raising :class:`MemoryAbsent` for a page the dump
does not hold, never inventing zeros) and answers symbol and type-layout questions
from the kernel's symbol table. It is built over a Volatility layer (``dumpscan.vol``)
or, in unit tests, over a few hand-made byte buffers.
"""
from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

from ..symbols.isf import SymbolTable, SymbolTableError, TypeLayout

PAGE = 0x1000


class MemoryAbsent(Exception):
    """A virtual address whose page is not mapped or not in the dump."""

    def __init__(self, address: int, length: int = 1) -> None:
        super().__init__(f"memory at {address:#x} (+{length:#x}) is not in the dump")
        self.address = address
        self.length = length


class KernelView:
    """Kernel virtual memory plus the kernel's symbol table."""

    def __init__(self, read: Callable[[int, int], bytes], symbols: SymbolTable,
                 kernel_base: int) -> None:
        """``read(va, length)`` returns exactly ``length`` bytes or raises MemoryAbsent."""
        self._read = read
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

    def read_pointer(self, va: int) -> int:
        return struct.unpack(self._pointer_format, self._read(va, self.pointer_size))[0]

    def read_uint(self, va: int, size: int) -> int:
        return int.from_bytes(self._read(va, size), "little")

    def canonical(self, va: int) -> int:
        """Sign-extend a 48-bit x64 address, as the debugger prints it."""
        if self.pointer_size == 8 and va & (1 << 47):
            return va | 0xFFFF000000000000
        return va

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

    # -- decoding ------------------------------------------------------------------------
    def decode(self, type_name: str, data: bytes, offset: int = 0,
               members: list[str] | None = None) -> dict[str, int]:
        """Integer values of the named (default: all integer-like) members of one struct."""
        layout = self.layout(type_name)
        out: dict[str, int] = {}
        for name in members or list(layout.members):
            member = layout.members.get(name)
            if member is None:
                if members is not None:
                    raise SymbolTableError(f"type {type_name} has no member {name}")
                continue
            if member.kind not in ("base", "pointer", "enum", "bitfield"):
                continue
            raw = int.from_bytes(data[offset + member.offset: offset + member.offset + member.size],
                                 "little", signed=member.signed and member.kind == "base")
            if member.kind == "bitfield":
                raw = (raw >> member.bit_position) & ((1 << member.bit_length) - 1)
            out[name] = raw
        return out

    def dtype(self, type_name: str, members: list[str]) -> np.dtype:
        """A numpy structured dtype of the listed members at their symbol-table offsets
        and widths, itemsize = the struct size: decode a whole table in one pass."""
        layout = self.layout(type_name)
        names, formats, offsets = [], [], []
        for name in members:
            member = layout.members[name]
            size = member.size
            if member.kind not in ("base", "pointer", "enum", "bitfield") or size not in (1, 2, 4, 8):
                raise SymbolTableError(f"{type_name}.{name} is not an integer member")
            signed = member.signed and member.kind == "base"
            names.append(name)
            formats.append(f"<{'i' if signed else 'u'}{size}")
            offsets.append(member.offset)
        return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                         "itemsize": layout.size})
