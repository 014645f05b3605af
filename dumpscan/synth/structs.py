"""Packing Windows structures from a platform's layout tables.

The factory writes every kernel structure through :class:`StructPacker`, so that
offsets, widths and bitfields come only from the platform module (see
``platforms/base.py`` for the type notation). Values are given by field name;
embedded structs take a nested dict, arrays a list.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .platforms.base import Platform

_BASE = {
    "u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False),
    "i8": (1, True), "i16": (2, True), "i32": (4, True), "i64": (8, True),
    "wchar": (2, False), "char": (1, True), "void": (1, False),
}
_ARRAY = re.compile(r"^(?P<elem>.+)\[(?P<count>\d+)\]$")
_BITFIELD = re.compile(r"^(?P<base>[ui]\d+)\{(?P<pos>\d+):(?P<len>\d+)\}$")


@dataclass(frozen=True)
class TypeSpec:
    """A parsed type notation."""

    kind: str  # "base", "pointer", "struct", "enum", "array", "bitfield"
    size: int
    name: str = ""  # base name, struct name or enum name
    signed: bool = False
    element: "TypeSpec | None" = None
    count: int = 0
    bit_position: int = 0
    bit_length: int = 0
    target: str = ""  # pointer target notation ("" for void)


class StructPacker:
    """Writes structures of one platform into byte buffers."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._parse = lru_cache(maxsize=None)(self._parse_uncached)

    def sizeof(self, type_name: str) -> int:
        return self.platform.types[type_name].size

    def offsetof(self, path: str) -> int:
        """Offset of a dotted member path, e.g. ``_VF_AVL_TREE.Tables`` or
        ``_RTL_AVL_TABLE.BalancedRoot.RightChild``."""
        type_name, *members = path.split(".")
        offset = 0
        current = type_name
        for member in members:
            field_offset, notation = self.platform.types[current].fields[member]
            offset += field_offset
            current = self._parse(notation).name
        return offset

    def parse(self, notation: str) -> TypeSpec:
        return self._parse(notation)

    def _parse_uncached(self, notation: str) -> TypeSpec:
        match = _ARRAY.match(notation)
        if match:
            element = self._parse(match["elem"])
            count = int(match["count"])
            return TypeSpec("array", element.size * count, element=element, count=count)
        match = _BITFIELD.match(notation)
        if match:
            size, signed = _BASE[match["base"]]
            return TypeSpec("bitfield", size, name=match["base"], signed=signed,
                            bit_position=int(match["pos"]), bit_length=int(match["len"]))
        if notation == "ptr" or notation.startswith("ptr:"):
            return TypeSpec("pointer", self.platform.pointer_size, target=notation[4:])
        if notation.startswith("enum:"):
            enum = self.platform.enums[notation[5:]]
            size, signed = _BASE[enum.base]
            return TypeSpec("enum", size, name=notation[5:], signed=signed)
        if notation in _BASE:
            size, signed = _BASE[notation]
            return TypeSpec("base", size, name=notation, signed=signed)
        return TypeSpec("struct", self.platform.types[notation].size, name=notation)

    def pack(self, type_name: str, values: dict | None = None) -> bytearray:
        """A new buffer of the type's size with ``values`` written into it."""
        buf = bytearray(self.sizeof(type_name))
        self.write(buf, 0, type_name, values or {})
        return buf

    def pack_array(self, type_name: str, count: int, columns: dict[str, np.ndarray]) -> bytes:
        """``count`` consecutive structs whose integer members (plain or bitfield) are
        given as numpy columns: a whole table in one vectorised pass."""
        size = self.sizeof(type_name)
        words: dict[tuple[int, int], np.ndarray] = {}
        for member, column in columns.items():
            offset, notation = self.platform.types[type_name].fields[member]
            spec = self._parse(notation)
            if spec.size not in (1, 2, 4, 8):
                raise ValueError(f"{type_name}.{member} is not an integer member")
            word = words.setdefault((offset, spec.size), np.zeros(count, dtype=np.uint64))
            values = np.asarray(column).astype(np.uint64)
            if spec.kind == "bitfield":
                mask = np.uint64((1 << spec.bit_length) - 1)
                word |= (values & mask) << np.uint64(spec.bit_position)
            else:
                word |= values
        dtype = np.dtype({"names": [f"m{i}" for i in range(len(words))],
                          "formats": [f"<u{width}" for (_, width) in words],
                          "offsets": [offset for (offset, _) in words], "itemsize": size})
        table = np.zeros(count, dtype=dtype)
        for i, ((_, width), word) in enumerate(words.items()):
            table[f"m{i}"] = word.astype(f"<u{width}")
        return table.tobytes()

    def write(self, buf: bytearray, offset: int, type_name: str, values: dict) -> None:
        """Write ``values`` (field name -> value) of struct ``type_name`` at ``offset``."""
        fields = self.platform.types[type_name].fields
        for member, value in values.items():
            try:
                field_offset, notation = fields[member]
            except KeyError:
                raise KeyError(f"{self.platform.name}: {type_name} has no member {member}") from None
            self._write_value(buf, offset + field_offset, self._parse(notation), value)

    def _write_value(self, buf: bytearray, offset: int, spec: TypeSpec, value) -> None:
        if spec.kind == "struct":
            self.write(buf, offset, spec.name, value)
        elif spec.kind == "array":
            if isinstance(value, (bytes, bytearray)):
                buf[offset:offset + len(value)] = value
                return
            for index, item in enumerate(value):
                self._write_value(buf, offset + index * spec.element.size, spec.element, item)
        elif spec.kind == "bitfield":
            fmt = _int_format(spec.size, False)
            (word,) = struct.unpack_from(fmt, buf, offset)
            mask = ((1 << spec.bit_length) - 1) << spec.bit_position
            word = (word & ~mask) | ((value << spec.bit_position) & mask)
            struct.pack_into(fmt, buf, offset, word)
        else:
            mask = (1 << (8 * spec.size)) - 1
            struct.pack_into(_int_format(spec.size, False), buf, offset, value & mask)


def _int_format(size: int, signed: bool) -> str:
    code = {1: "b", 2: "h", 4: "i", 8: "q"}[size]
    return "<" + (code if signed else code.upper())
