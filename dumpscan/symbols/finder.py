"""Find the symbol table (ISF) a kernel or driver needs, offline.

A symbol location is a directory or a zip symbol pack (Volatility's ``windows.zip``).
In each directory, in order: ``windows/<pdb>/<GUID>-<age>.json.xz`` (also ``.json``,
``.json.gz``, ``.json.bz2``), the layout Volatility3 and the JPCERT symbol-table
collection use; then the zip packs directly in it, whose members are named the same way
(``sources.ZipPack``). Failing every location, the ISFs in that PDB's folder
(``windows/<pdb>/``, the folder name matched case-insensitively) are matched on their
metadata (GUID, age). Never a recursive search: a large symbol collection, or a symbol
directory given as ``/``, costs one folder listing, not a read of every table.
"""
from __future__ import annotations

from pathlib import Path

from .isf import SymbolTable, SymbolTableError, load_symbol_table
from .pe import PdbIdentity
from .sources import ISF_SUFFIXES, is_zip_pack, packs_in, zip_pack


class MissingSymbols(SymbolTableError):
    """No symbol table matches a PDB identity."""

    def __init__(self, pdb: PdbIdentity, symbol_dirs: list[Path]) -> None:
        target = expected_location(pdb, symbol_dirs)
        super().__init__(
            f"no symbol table for {pdb.name} GUID {pdb.guid} age {pdb.age}; put its ISF at "
            f"{target} (from a copy of {pdb.name}: dumpscan symbols --import {pdb.name} -s "
            f"{target.parents[2]}; or download and convert it with: python -m volatility3.framework."
            f"symbols.windows.pdbconv -p {pdb.name} -g {pdb.guid}{pdb.age})")
        self.pdb = pdb


def expected_location(pdb: PdbIdentity, symbol_dirs: list[Path]) -> Path:
    """Where the ISF of ``pdb`` belongs: ``<dir>/windows/<pdb>/<GUID>-<age>.json.xz`` in
    the first symbol location that is not a zip pack (else ``./symbols``)."""
    where = next((Path(d) for d in symbol_dirs if not is_zip_pack(Path(d))), Path("symbols"))
    return where / "windows" / pdb.name / f"{pdb.guid}-{pdb.age}.json.xz"


def locate_symbol_table(pdb: PdbIdentity, symbol_dirs: list[Path]) -> str | None:
    """The path or ``jar:file:`` URL of the ISF named for ``pdb`` (by file name, never by
    reading a table), or None."""
    for location in map(Path, symbol_dirs):
        if is_zip_pack(location):
            packs = [location]
        else:
            for suffix in ISF_SUFFIXES:
                candidate = location / "windows" / pdb.name / f"{pdb.guid}-{pdb.age}{suffix}"
                if candidate.is_file():
                    return str(candidate)
            packs = packs_in(location)
        for pack in packs:
            try:
                found = zip_pack(pack).find(pdb)
            except OSError:
                continue
            if found:
                return found
    return None


def find_symbol_table(pdb: PdbIdentity, symbol_dirs: list[Path]) -> SymbolTable:
    """The ISF of ``pdb`` (:func:`locate_symbol_table`, else the PDB folder's tables matched
    on their metadata). Raises MissingSymbols, or SymbolTableError for a table that is
    unreadable or names another GUID/age."""
    found = locate_symbol_table(pdb, symbol_dirs)
    if found is not None:
        return _checked(load_symbol_table(found), pdb)
    for directory in symbol_dirs:
        for candidate in _pdb_folder_files(Path(directory), pdb.name):
            if not candidate.name.endswith(ISF_SUFFIXES):
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
