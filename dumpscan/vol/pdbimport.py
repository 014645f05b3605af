"""Turn a local PDB into the symbol table dumpscan and Volatility look up, offline.

The conversion is Volatility's own (``volatility3.framework.symbols.windows.pdbconv``,
its ``PdbReader``), the same that produces Volatility's symbol packs; the table goes
where both look for it: ``<symbol dir>/windows/<pdb>/<GUID>-<age>.json.xz``, GUID and
age read from the PDB itself (its PDB info and DBI streams), which match the RSDS record
of the image built with it. A PDB is an MSF 7.00 file ("Microsoft C/C++ MSF 7.00\\r\\n
\\x1aDS\\0\\0\\0", the first 32 bytes; LLVM's PDB documentation, "The MSF File Format").
"""
from __future__ import annotations

import json
import lzma
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..symbols.pe import PdbIdentity

MSF7_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"

Converter = Callable[[Path, str], dict]


class PdbImportError(Exception):
    """The PDB cannot be read or converted, or its table cannot be written (one line)."""


def pdbconv(pdb_file: Path, database_name: str) -> dict:
    """The ISF document of ``pdb_file`` by Volatility's PdbReader (no download)."""
    from volatility3.framework import contexts
    from volatility3.framework.symbols.windows.pdbconv import PdbReader

    reader = PdbReader(contexts.Context(), pdb_file.resolve().as_uri(), database_name=database_name)
    return reader.get_json()


def import_pdb(pdb_file: Path, symbol_dir: Path, convert: Converter = pdbconv) -> tuple[PdbIdentity, Path]:
    """Convert ``pdb_file`` and write its table into ``symbol_dir`` (replacing an older
    copy of the same GUID and age). Returns the PDB identity and the table's path."""
    try:
        with open(pdb_file, "rb") as handle:
            magic = handle.read(len(MSF7_MAGIC))
    except IsADirectoryError:
        raise PdbImportError(f"{pdb_file}: is a directory, not a PDB file") from None
    except FileNotFoundError:
        raise PdbImportError(f"{pdb_file}: no such file") from None
    except OSError as exc:
        raise PdbImportError(f"{pdb_file}: cannot read: {exc.strerror or exc}") from None
    if magic != MSF7_MAGIC:
        raise PdbImportError(f"{pdb_file}: not a PDB (no 'Microsoft C/C++ MSF 7.00' header)")
    try:
        document = convert(pdb_file, pdb_file.name)
        info = document["metadata"]["windows"]["pdb"]
        pdb = PdbIdentity(pdb_file.name, str(info["GUID"]).upper(), int(info["age"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise PdbImportError(f"{pdb_file}: Volatility's pdbconv gave no PDB identity ({exc})") from None
    except Exception as exc:  # pdbconv's own failures on a damaged PDB: still one line
        raise PdbImportError(f"{pdb_file}: Volatility's pdbconv cannot convert it: "
                             f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None
    target = symbol_dir / "windows" / pdb.name / f"{pdb.guid}-{pdb.age}.json.xz"
    data = lzma.compress(json.dumps(document, sort_keys=True).encode("utf-8"))
    temporary = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".import-", delete=False) as handle:
            temporary = Path(handle.name)
            handle.write(data)
        os.replace(temporary, target)  # readers never see a half-written table
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise PdbImportError(f"{target}: cannot write: {exc.strerror or exc}") from None
    return pdb, target
