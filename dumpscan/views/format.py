"""One formatter for every cell, by column kind and output style.

Styles: ``text`` (a terminal: addresses at pointer width as the debugger prints them,
booleans yes/no), ``csv`` (addresses and hex ``0x``-prefixed lowercase, booleans
True/False as Volatility's CSV renderer writes them, lists joined) and ``json`` (native
values: ints, booleans, lists; None = not applicable). Numbers are plain decimal in
every style (no separators: a script or spreadsheet reads them back). The Volatility
adapter (``dumpscan.vol.grid``) maps kinds to TreeGrid types instead.
"""
from __future__ import annotations

from typing import Any

from ..analysis.leaks import display_tag, format_address, format_duration, human_bytes
from .model import Column

STYLES = ("text", "csv", "json")


def number(value: int | float) -> str:
    """A count or byte total as every text output prints it: plain decimal."""
    return f"{value:.1f}" if isinstance(value, float) else str(int(value))


def size(value: int) -> str:
    """A byte total with its human size: ``10280960 bytes (9.8 MiB)``."""
    return f"{number(value)} bytes ({human_bytes(value)})" if abs(value) >= 1024 else f"{number(value)} bytes"


def hexa(value: int) -> str:
    return f"{value:#x}"


def cell(column: Column, value: Any, style: str, arch: str = "x64") -> Any:
    """``value`` of ``column`` for ``style``; None (not applicable) is '' in text and CSV."""
    if value is None:
        return None if style == "json" else ""
    kind = column.kind
    if style == "json":
        return list(value) if kind == "list" else value
    if kind == "list":
        return column.joiner.join(str(v) for v in value)
    if kind == "tag":
        return display_tag(value)
    if kind == "bool":
        return ("yes" if value else "no") if style == "text" else str(bool(value))
    if kind == "address":
        return format_address(value, arch) if style == "text" else hexa(value)
    if kind == "hex":
        return hexa(value)
    if kind == "float":
        return f"{value:.1f}"
    if kind in ("int", "bytes"):
        return number(value)
    return str(value)


__all__ = ["STYLES", "cell", "number", "size", "hexa", "display_tag", "format_address",
           "format_duration", "human_bytes"]
