"""Address -> ``module!function+0xoff`` / ``module+0xoff`` / ``0x...``.

The rules are those of :func:`dumpscan.report.schema.symbolize` (the truth uses it):
the first module (load order) whose [base, base+size) holds the address; within it
the nearest symbol at or below the address (on equal RVAs the one ``sorted((rva,
name))`` puts last, i.e. the greatest name); the kernel (the module whose base is the
view's kernel base) has every symbol of the kernel's symbol table; a driver's
symbols come from its own ISF when one matching the image's RSDS record (PDB name,
GUID, age) is in the symbol directories, else it symbolizes as ``module+0xoff``.
The index is built once: sorted module bases and per-module sorted RVA arrays,
searched with numpy / bisect.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..kernel.modules import Module
from ..kernel.view import KernelView
from ..report.schema import format_symbol, module_label
from ..symbols.finder import MissingSymbols, find_symbol_table
from ..symbols.isf import SymbolTable, SymbolTableError
from ..symbols.pe import CodeViewError, PdbIdentity, read_codeview


class _Functions:
    """Sorted RVAs of one module with the name the schema's tie rule picks."""

    def __init__(self, symbols: Mapping[str, int]) -> None:
        ordered = sorted((int(rva), name) for name, rva in symbols.items())
        rvas: list[int] = []
        names: list[str] = []
        for rva, name in ordered:
            if rvas and rvas[-1] == rva:
                names[-1] = name  # the later (greater) name wins, as bisect_right does
            else:
                rvas.append(rva)
                names.append(name)
        self.rvas = rvas
        self.names = names

    def lookup(self, rva: int) -> tuple[str, int] | None:
        position = bisect_right(self.rvas, rva)
        if not position:
            return None
        return self.names[position - 1], rva - self.rvas[position - 1]

    def start(self, rva: int) -> int | None:
        position = bisect_right(self.rvas, rva)
        return self.rvas[position - 1] if position else None


class Symbolizer:
    def __init__(self, modules: Sequence[Module], symbols: Mapping[int, Mapping[str, int]],
                 missing: Mapping[int, PdbIdentity] | None = None) -> None:
        """``symbols``: module index -> {name: RVA} (modules without symbols omitted);
        ``missing``: module index -> the PDB whose table was not found. A module whose range
        is not within 64-bit addresses (a corrupt DllBase or SizeOfImage) holds no address:
        it is left out of the index, the others stay."""
        self.modules = list(modules)
        self.missing = dict(missing or {})
        self.wanted: set[int] = set()  # indices of ``missing`` that an address symbolized fell in
        self.labels = [module_label(m.name, i) for i, m in enumerate(self.modules)]
        self.functions = {i: _Functions(s) for i, s in symbols.items() if s}
        order = sorted((i for i, m in enumerate(self.modules) if 0 <= m.base <= m.base + m.size <= 1 << 64),
                       key=lambda i: (self.modules[i].base, i))
        self._order = order
        self._bases = np.array([self.modules[i].base for i in order], dtype=np.uint64)
        self._ends = np.array([min(self.modules[i].base + self.modules[i].size, (1 << 64) - 1)
                               for i in order], dtype=np.uint64)
        spans = sorted((self.modules[i].base, self.modules[i].end) for i in order if self.modules[i].size)
        self._overlap = any(b[0] < a[1] for a, b in zip(spans, spans[1:]))
        self._cache: dict[int, str] = {}

    # -- lookups --------------------------------------------------------------------
    def module_index(self, address: int) -> int | None:
        if self._overlap:
            for index in sorted(self._order):
                if self.modules[index].contains(address):
                    return index
            return None
        if not len(self._bases):
            return None
        position = int(np.searchsorted(self._bases, np.uint64(address), side="right")) - 1
        if position < 0 or address >= int(self._ends[position]):
            return None
        return self._order[position]

    def module_of(self, address: int) -> Module | None:
        index = self.module_index(address)
        return None if index is None else self.modules[index]

    def function_of(self, address: int) -> tuple[str | None, str | None]:
        """(module label, function name or None); (None, None) outside every module."""
        index = self.module_index(address)
        if index is None:
            return None, None
        functions = self.functions.get(index)
        found = functions.lookup(address - self.modules[index].base) if functions else None
        return self.labels[index], (found[0] if found else None)

    def function_start(self, address: int) -> int | None:
        index = self.module_index(address)
        functions = self.functions.get(index) if index is not None else None
        if functions is None:
            return None
        start = functions.start(address - self.modules[index].base)
        return None if start is None else self.modules[index].base + start

    def symbol(self, address: int) -> str:
        address = int(address)
        cached = self._cache.get(address)
        if cached is not None:
            return cached
        index = self.module_index(address)
        if index is None:
            text = f"{address:#x}"
        else:
            rva = address - self.modules[index].base
            functions = self.functions.get(index)
            found = functions.lookup(rva) if functions else None
            text = (format_symbol(self.labels[index], found[0], found[1]) if found
                    else format_symbol(self.labels[index], None, rva))
            if not found and index in self.missing:
                self.wanted.add(index)
        if len(self._cache) < 1 << 20:
            self._cache[address] = text
        return text


    def wanted_tables(self) -> list[dict]:
        """The driver tables that would have named a function for an address shown
        ``module+0xoff``: module, pdb, guid, age (load order)."""
        return [{"module": self.modules[i].name, "pdb": self.missing[i].name, "guid": self.missing[i].guid,
                 "age": self.missing[i].age} for i in sorted(self.wanted)]


# -- building ---------------------------------------------------------------------------
def find_module_table(pdb: PdbIdentity, symbol_dirs: Sequence[Path]) -> SymbolTable | None:
    """The ISF of a driver's PDB, found as the kernel's is (:func:`find_symbol_table`:
    ``<dir>/windows/<pdb>/<GUID>-<age>.json(.xz|.gz|.bz2)``, else the ISFs of that PDB's
    folder matched on their metadata, unreadable candidates skipped, never a recursive
    search); None when there is none. SymbolTableError only for the exact file being
    unreadable or naming another GUID/age."""
    try:
        return find_symbol_table(pdb, list(symbol_dirs))
    except MissingSymbols:
        return None


def build_symbolizer(view: KernelView, modules: Sequence[Module], symbol_dirs: Sequence[Path],
                     warnings: list[str] | None = None) -> Symbolizer:
    """The kernel's symbols from the view's symbol table; each driver's from a matching
    ISF when one is found (absence is normal: ``module+0xoff``)."""
    warnings = warnings if warnings is not None else []
    symbols: dict[int, Mapping[str, int]] = {}
    missing: dict[int, PdbIdentity] = {}
    loaded: dict[tuple[str, str, int], SymbolTable | None] = {}
    for index, module in enumerate(modules):
        if module.base == view.kernel_base:
            symbols[index] = view.symbols.symbols
            continue
        try:
            pdb = read_codeview(view.read, module.base)
        except CodeViewError:
            continue
        key = (pdb.name.lower(), pdb.guid, pdb.age)
        if key not in loaded:
            try:
                loaded[key] = find_module_table(pdb, symbol_dirs)
            except SymbolTableError as exc:
                warnings.append(f"symbols for {module.name}: {exc}")
                loaded[key] = None
        table = loaded[key]
        if table is not None:
            symbols[index] = table.symbols
        else:
            missing[index] = pdb
    return Symbolizer(modules, symbols, missing)
