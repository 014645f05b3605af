"""Which symbol tables a dump needs, and which of them the symbol locations hold.

The kernel's PDB comes from its image's CodeView (RSDS) record; each loaded driver's
from its own image, found through PsLoadedModuleList (which is read through the
kernel's table: without it only the kernel's need can be told). Tables are looked up
as the analysis looks them up (:func:`dumpscan.symbols.finder.find_symbol_table`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ..kernel.modules import read_modules
from ..symbols.finder import MissingSymbols, expected_location, find_symbol_table
from ..symbols.isf import SymbolTableError
from ..symbols.pe import CodeViewError, PdbIdentity, read_codeview

FOUND, MISSING, UNREADABLE, NO_CODEVIEW = "found", "missing", "unreadable", "no codeview"


@dataclass(frozen=True)
class TableNeed:
    """One loaded image and the symbol table of its PDB."""

    module: str  # "ntoskrnl.exe", "myfault.sys"
    base: int | None
    pdb: str | None  # None: the image's CodeView record could not be read
    guid: str | None
    age: int | None
    status: str  # FOUND, MISSING, UNREADABLE, NO_CODEVIEW
    table: str  # where it was found, where it belongs (missing), or what is wrong

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SymbolNeeds:
    dump: str
    tables: list[TableNeed]
    note: str | None = None  # why the list is incomplete


def _need(module: str, base: int | None, pdb: PdbIdentity, symbol_dirs: list[Path]) -> TableNeed:
    try:
        table = find_symbol_table(pdb, symbol_dirs)
    except MissingSymbols:
        return TableNeed(module, base, pdb.name, pdb.guid, pdb.age, MISSING,
                         str(expected_location(pdb, symbol_dirs)))
    except SymbolTableError as exc:
        return TableNeed(module, base, pdb.name, pdb.guid, pdb.age, UNREADABLE, " ".join(str(exc).split()))
    return TableNeed(module, base, pdb.name, pdb.guid, pdb.age, FOUND, table.source)


def symbol_needs(path: str | Path, symbol_dirs: list[Path]) -> SymbolNeeds:
    """The tables the dump at ``path`` needs: the kernel's, then each loaded driver's.

    Raises :class:`~dumpscan.vol.errors.DumpOpenError` (one line) when the dump cannot
    be opened at all; a missing kernel table is a row, not an error."""
    from ..vol.errors import SymbolsMissing
    from ..vol.open import open_kernel

    dirs = [Path(d) for d in symbol_dirs]
    try:
        opened = open_kernel(path, dirs)
    except SymbolsMissing as exc:
        kernel = TableNeed("ntoskrnl.exe", None, exc.pdb.name, exc.pdb.guid, exc.pdb.age, MISSING,
                           str(exc.expected))
        return SymbolNeeds(str(path), [kernel], "the drivers are listed once the kernel's table is there: "
                                                "the loaded-module list is read through it")
    try:
        view = opened.view
        head = opened.dump.header.ps_loaded_module_list
        listed = read_modules(view, view.canonical(head) if head else None)
        needs: list[TableNeed] = []
        for module in listed.modules:
            if module.base == view.kernel_base and opened.pdb is not None:
                pdb = opened.pdb
                needs.append(TableNeed(module.name, module.base, pdb.name, pdb.guid, pdb.age, FOUND,
                                       view.symbols.source))
                continue
            try:
                pdb = read_codeview(view.read, module.base)
            except CodeViewError as exc:
                needs.append(TableNeed(module.name, module.base, None, None, None, NO_CODEVIEW, str(exc)))
                continue
            needs.append(_need(module.name, module.base, pdb, dirs))
        note = None if listed.complete else "the loaded-module list could not be read to its end"
        return SymbolNeeds(str(path), needs, note)
    finally:
        opened.close()
