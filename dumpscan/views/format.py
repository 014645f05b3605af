"""One formatter for every cell, by column kind and output style.

Styles: ``text`` (a terminal: addresses at pointer width as the debugger prints them,
booleans yes/no), ``csv`` (addresses and hex ``0x``-prefixed lowercase, booleans
True/False as Volatility's CSV renderer writes them, lists joined) and ``json`` (native
values: ints, booleans, lists; None = not applicable). Numbers are plain decimal in
every style (no separators: a script or spreadsheet reads them back). The Volatility
adapter (``dumpscan.vol.grid``) maps kinds to TreeGrid types instead.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..analysis.leaks import display_tag, format_address, format_duration, human_bytes
from .model import Column

def number(value: int | float) -> str:
    """A count or byte total as every text output prints it: plain decimal."""
    return f"{value:.1f}" if isinstance(value, float) else str(int(value))


def size(value: int) -> str:
    """A byte total with its human size: ``10280960 bytes (9.8 MiB)``."""
    return f"{number(value)} bytes ({human_bytes(value)})" if abs(value) >= 1024 else f"{number(value)} bytes"


def hexa(value: int) -> str:
    return f"{value:#x}"


def formatter(column: Column, style: str, arch: str = "x64") -> Callable[[Any], Any]:
    """The function that formats ``column``'s values for ``style`` (chosen once per column:
    front ends call it for every row). None (not applicable) is '' in text and CSV."""
    empty = None if style == "json" else ""
    kind = column.kind
    if style == "json":
        convert: Callable[[Any], Any] = list if kind == "list" else (lambda value: value)
    elif kind == "list":
        convert = lambda value: column.joiner.join(str(v) for v in value)  # noqa: E731
    elif kind == "tag":
        convert = display_tag
    elif kind == "bool":
        convert = (lambda value: "yes" if value else "no") if style == "text" else (lambda value: str(bool(value)))
    elif kind == "address":
        convert = (lambda value: format_address(value, arch)) if style == "text" else hexa
    elif kind == "hex":
        convert = hexa
    elif kind == "float":
        convert = lambda value: f"{value:.1f}"  # noqa: E731
    elif kind in ("int", "bytes"):
        convert = number
    else:
        convert = str
    return lambda value: empty if value is None else convert(value)


def cell(column: Column, value: Any, style: str, arch: str = "x64") -> Any:
    """``value`` of ``column`` for ``style`` (see :func:`formatter`)."""
    return formatter(column, style, arch)(value)


__all__ = ["cell", "formatter", "number", "size", "hexa", "display_tag", "format_address",
           "format_duration", "human_bytes"]
