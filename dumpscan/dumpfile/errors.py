"""Exceptions of the crash-dump container layer.

Two families, deliberately separate:

* :class:`DumpFormatError` - the file is not a dump we can open soundly (bad signature,
  unsupported DumpType, truncated beyond use, absurd or inconsistent counts).  Raised by
  :func:`open_dump`; ``str()`` is one line naming the file and what is wrong.
* :class:`DumpReadError` - a read from an opened dump cannot be answered.  Its subclass
  :class:`PageNotPresent` says a physical page is absent from the dump (never stored, or
  lost to truncation).  Absent pages are never returned as zeros.
"""
from __future__ import annotations

import os


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class DumpError(Exception):
    """Base of every error raised by dumpscan.dumpfile."""


class DumpFormatError(DumpError, ValueError):
    """The file is not a crash dump we can open soundly."""

    def __init__(self, path: str | os.PathLike | None, message: str) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.message = _one_line(message)
        super().__init__(self.path, self.message)

    def __str__(self) -> str:
        where = self.path if self.path is not None else "<dump>"
        return f"{where}: {self.message}"


class DumpReadError(DumpError, LookupError):
    """A read from an opened dump cannot be answered."""


class PageNotPresent(DumpReadError):
    """A physical page is not present in the dump (absent is not zero)."""

    def __init__(self, pfn: int, path: str | os.PathLike | None = None) -> None:
        self.pfn = int(pfn)
        self.path = os.fspath(path) if path is not None else None
        super().__init__(self.pfn)

    @property
    def physical_address(self) -> int:
        return self.pfn << 12

    def __str__(self) -> str:
        where = f" in {self.path}" if self.path else ""
        return f"physical page 0x{self.pfn:x} (address 0x{self.pfn << 12:x}) is not present{where}"
