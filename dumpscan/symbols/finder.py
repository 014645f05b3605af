"""Find the symbol table (ISF) a kernel or driver needs, offline.

Looked for under each symbol directory as ``windows/<pdb>/<GUID>-<age>.json.xz``
(also ``.json``, ``.json.gz``, ``.json.bz2``), the layout Volatility3 and the
JPCERT symbol-table collection use; failing that, the ISFs in that PDB's folder
(``windows/<pdb>/``, the folder name matched case-insensitively) are matched on their
metadata (GUID, age). Never a recursive search: a large symbol collection, or a symbol
directory given as ``/``, costs one folder listing, not a read of every table.
"""
from __future__ import annotations

from pathlib import Path

from .isf import SymbolTable, SymbolTableError, load_symbol_table
from .pe import PdbIdentity

SUFFIXES = (".json.xz", ".json", ".json.gz", ".json.bz2")


class MissingSymbols(SymbolTableError):
    """No symbol table matches a PDB identity."""

    def __init__(self, pdb: PdbIdentity, symbol_dirs: list[Path]) -> None:
        where = symbol_dirs[0] if symbol_dirs else Path("symbols")
        target = where / "windows" / pdb.name / f"{pdb.guid}-{pdb.age}.json.xz"
        super().__init__(
            f"no symbol table for {pdb.name} GUID {pdb.guid} age {pdb.age}; put its ISF at "
            f"{target} (convert {pdb.name} with: python -m volatility3.framework.symbols."
            f"windows.pdbconv -p {pdb.name} -g {pdb.guid}{pdb.age})")
        self.pdb = pdb


def find_symbol_table(pdb: PdbIdentity, symbol_dirs: list[Path]) -> SymbolTable:
    for directory in symbol_dirs:
        for suffix in SUFFIXES:
            candidate = Path(directory) / "windows" / pdb.name / f"{pdb.guid}-{pdb.age}{suffix}"
            if candidate.is_file():
                return _checked(load_symbol_table(candidate), pdb)
    for directory in symbol_dirs:
        for candidate in _pdb_folder_files(Path(directory), pdb.name):
            if not candidate.name.endswith(SUFFIXES):
                continue
            try:
                table = load_symbol_table(candidate)
            except SymbolTableError:
                continue
            if table.pdb and table.pdb[1:] == (pdb.guid, pdb.age):
                return table
    raise MissingSymbols(pdb, symbol_dirs)


MAX_FOLDER_CANDIDATES = 256  # ISFs of one PDB name read for their metadata, at most


def _pdb_folder_files(directory: Path, pdb_name: str) -> list[Path]:
    """Files of ``<directory>/windows/<pdb_name>/`` (folder matched case-insensitively)."""
    windows = directory / "windows"
    try:
        folders = [p for p in windows.iterdir() if p.is_dir() and p.name.lower() == pdb_name.lower()]
    except OSError:
        return []
    files: list[Path] = []
    for folder in sorted(folders):
        try:
            files += sorted(p for p in folder.iterdir() if p.is_file())
        except OSError:
            continue
    return files[:MAX_FOLDER_CANDIDATES]


def _checked(table: SymbolTable, pdb: PdbIdentity) -> SymbolTable:
    if table.pdb and table.pdb[1:] != (pdb.guid, pdb.age):
        raise SymbolTableError(
            f"{table.source}: its metadata names GUID {table.pdb[1]} age {table.pdb[2]}, "
            f"not {pdb.guid} age {pdb.age} as the dump's {pdb.name} needs")
    return table
