"""Read a Volatility3 ISF symbol table: type layouts, symbol RVAs, PDB identity.

The analysis never hard-codes an offset: every member offset and width it uses
comes from here, so one code path serves every Windows build.
"""
from __future__ import annotations

import bz2
import gzip
import json
import lzma
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse


class SymbolTableError(Exception):
    """A symbol table is missing, unreadable, or lacks a type or symbol needed."""


@dataclass(frozen=True)
class Member:
    """One member of a struct or union, resolved to sizes."""

    name: str
    offset: int
    kind: str  # "base", "pointer", "struct", "union", "enum", "array", "bitfield"
    size: int
    signed: bool = False
    type_name: str = ""  # base/struct/union/enum name; element type name for arrays
    count: int = 0  # arrays
    element_kind: str = ""  # arrays: kind of the element
    element_size: int = 0
    bit_position: int = 0
    bit_length: int = 0


@dataclass(frozen=True)
class TypeLayout:
    name: str
    kind: str  # "struct" or "union"
    size: int
    members: dict[str, Member]

    def __contains__(self, member: str) -> bool:
        return member in self.members


class SymbolTable:
    """An ISF document with lazily resolved type layouts."""

    def __init__(self, document: dict, source: str = "") -> None:
        self.document = document
        self.source = source
        self._layouts: dict[str, TypeLayout] = {}
        try:
            self.pointer_size = int(document["base_types"]["pointer"]["size"])
        except (KeyError, TypeError, ValueError):
            raise SymbolTableError(f"{source}: not a Volatility ISF (no base_types.pointer)") from None

    @classmethod
    def load(cls, path_or_url: str | Path) -> "SymbolTable":
        path = _local_path(path_or_url)
        try:
            raw = path.read_bytes()
            opener = {".xz": lzma.decompress, ".gz": gzip.decompress, ".bz2": bz2.decompress}
            raw = opener.get(path.suffix, lambda b: b)(raw)
            return cls(json.loads(raw), str(path))
        except (OSError, ValueError, lzma.LZMAError, EOFError) as exc:
            raise SymbolTableError(f"{path}: cannot read symbol table ({exc})") from None

    # -- identity ---------------------------------------------------------------------
    @cached_property
    def pdb(self) -> tuple[str, str, int] | None:
        """(PDB file name, GUID, age) from the metadata, or None."""
        pdb = self.document.get("metadata", {}).get("windows", {}).get("pdb")
        if not pdb:
            return None
        return pdb.get("database", ""), str(pdb.get("GUID", "")).upper(), int(pdb.get("age", 0))

    # -- symbols ----------------------------------------------------------------------
    @cached_property
    def symbols(self) -> dict[str, int]:
        """Symbol name -> RVA."""
        return {name: int(entry["address"]) for name, entry in
                self.document.get("symbols", {}).items() if "address" in entry}

    def rva(self, name: str) -> int:
        try:
            return self.symbols[name]
        except KeyError:
            raise SymbolTableError(f"{self.source}: no symbol {name}") from None

    def symbol_size(self, name: str) -> int | None:
        """Width in bytes of a global whose ISF entry carries a type, else None (a public
        PDB's globals are untyped)."""
        spec = self.document.get("symbols", {}).get(name, {}).get("type")
        if not spec:
            return None
        try:
            size = self._type_size(spec)[1]
        except (KeyError, TypeError, ValueError):
            return None
        return size or None

    def has_type(self, name: str) -> bool:
        return name in self.document.get("user_types", {})

    def enum(self, name: str) -> dict[str, int]:
        return dict(self.document.get("enums", {}).get(name, {}).get("constants", {}))

    # -- types ------------------------------------------------------------------------
    def layout(self, name: str) -> TypeLayout:
        cached = self._layouts.get(name)
        if cached is not None:
            return cached
        try:
            raw = self.document["user_types"][name]
        except KeyError:
            raise SymbolTableError(f"{self.source}: no type {name}") from None
        members = {m: self._member(m, f["offset"], f["type"]) for m, f in raw.get("fields", {}).items()}
        layout = TypeLayout(name, raw.get("kind", "struct"), int(raw["size"]), members)
        self._layouts[name] = layout
        return layout

    def _type_size(self, spec: dict) -> tuple[str, int, bool, str]:
        """(kind, size, signed, name) of an ISF type reference."""
        kind = spec["kind"]
        if kind == "base":
            base = self.document["base_types"][spec["name"]]
            return "base", int(base["size"]), bool(base.get("signed", False)), spec["name"]
        if kind == "pointer":
            return "pointer", self.pointer_size, False, spec.get("subtype", {}).get("name", "")
        if kind in ("struct", "union", "class"):
            raw = self.document["user_types"].get(spec["name"])
            return kind, int(raw["size"]) if raw else 0, False, spec["name"]
        if kind == "enum":
            raw = self.document["enums"][spec["name"]]
            return "enum", int(raw["size"]), False, spec["name"]
        if kind == "array":
            element = self._type_size(spec["subtype"])
            return "array", element[1] * int(spec["count"]), False, element[3]
        if kind == "bitfield":
            inner = self._type_size(spec["type"])
            return "bitfield", inner[1], inner[2], inner[3]
        return kind, 0, False, spec.get("name", "")

    def _member(self, name: str, offset: int, spec: dict) -> Member:
        kind, size, signed, type_name = self._type_size(spec)
        if kind == "array":
            element_kind, element_size, element_signed, _ = self._type_size(spec["subtype"])
            return Member(name, offset, kind, size, element_signed, type_name, int(spec["count"]),
                          element_kind, element_size)
        if kind == "bitfield":
            return Member(name, offset, kind, size, signed, type_name,
                          bit_position=int(spec["bit_position"]), bit_length=int(spec["bit_length"]))
        return Member(name, offset, kind, size, signed, type_name)


TABLE_CACHE_SIZE = 4  # symbol tables kept loaded per process (a real kernel's ISF is ~100 MB parsed)


def load_symbol_table(path: str | Path) -> SymbolTable:
    """:meth:`SymbolTable.load`, kept for the next dump of the same kernel build: one load
    per table file (path, size, mtime) per process, the :data:`TABLE_CACHE_SIZE` most
    recently used kept. A table that fails to load is not cached (a fixed file is re-read)."""
    path = _local_path(path)
    try:
        info = path.stat()
    except OSError:
        return SymbolTable.load(path)  # raises the usual one-line SymbolTableError
    return _cached_table(str(path), info.st_size, info.st_mtime_ns)


@lru_cache(maxsize=TABLE_CACHE_SIZE)
def _cached_table(path: str, size: int, mtime_ns: int) -> SymbolTable:
    return SymbolTable.load(path)


def _local_path(path_or_url: str | Path) -> Path:
    text = str(path_or_url)
    if text.startswith("file:"):
        return Path(unquote(urlparse(text).path))
    return Path(text)
