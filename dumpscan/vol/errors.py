"""Why a dump could not be opened as a kernel address space: one exception family.

Every failure of :func:`dumpscan.vol.open.open_kernel` is a :class:`DumpOpenError`
whose ``str()`` is one line, ``"<dump path>: <what is wrong>"``; the subclasses let a
caller tell the cases apart without parsing text.
"""
from __future__ import annotations

import os
from pathlib import Path


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class DumpOpenError(Exception):
    """A dump could not be opened as a kernel address space."""

    def __init__(self, path: str | os.PathLike | None, message: str) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.message = _one_line(message)
        super().__init__(self.path, self.message)

    def __str__(self) -> str:
        return f"{self.path if self.path is not None else '<dump>'}: {self.message}"


class NotAKernelDump(DumpOpenError):
    """Not a crash dump dumpscan can read: bad signature, unsupported DumpType, truncated
    beyond use, inconsistent header; or the file cannot be opened at all."""


class PageTableNotFound(DumpOpenError):
    """No usable DTB: the header's is unset or wrong, and scanning found none."""


class KernelNotFound(DumpOpenError):
    """The kernel image could not be located."""


class CodeViewUnreadable(DumpOpenError):
    """The kernel image's CodeView (RSDS) record, naming its PDB, cannot be read."""


class SymbolsMissing(DumpOpenError):
    """No symbol table (ISF) for the kernel's PDB under the symbol directories."""

    def __init__(self, path, message: str, pdb, expected: Path | None = None) -> None:
        super().__init__(path, message)
        self.pdb = pdb  # PdbIdentity: name, guid, age
        self.expected = expected  # where the ISF should go


class SymbolsMismatch(DumpOpenError):
    """A symbol table was found but does not belong to this kernel (or is unreadable)."""
