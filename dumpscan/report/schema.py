"""The ``dumpscan.report/1`` schema: identifier, JSON Schema, and the few naming
rules the factory's ground truth and the analyzer's report must both follow.

docs/report-schema.md explains every field; ``schema.json`` beside this module is
the machine-readable form.
"""
from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources

SCHEMA_ID = "dumpscan.report/1"
SCHEMA_VERSION = "1.2"  # minor versions add fields only (docs/report-schema.md, "Versions")

# Members of the verifier structures that are not counters.
NON_COUNTER_MEMBERS = frozenset({"Signature", "SeSigningLevel"})


@lru_cache(maxsize=1)
def json_schema() -> dict:
    return json.loads(resources.files(__package__).joinpath("schema.json").read_text())


def counter_members(members: Mapping[str, tuple[str, int]]) -> dict[str, int]:
    """The members reported as counters of a verifier structure: every member whose
    type is a plain integer (not a pointer, struct, union, array or bitfield), except
    ``Signature`` and ``SeSigningLevel``. ``members``: name -> (kind, size in bytes),
    kind as in a Volatility ISF ("base", "pointer", "struct", ...). Returns name -> size."""
    return {name: size for name, (kind, size) in members.items()
            if kind == "base" and size > 0 and name not in NON_COUNTER_MEMBERS}


def format_symbol(module: str, function: str | None, offset: int) -> str:
    """``nt!IopXxxControlFile+0x3e8``, ``myfault!PoolLeak`` (offset 0), or
    ``contoso+0x1a2b`` when no function is known. ``module`` is the image name
    without its extension, and ``nt`` for the kernel, as WinDbg prints them."""
    if function is None:
        return f"{module}+{offset:#x}"
    return f"{module}!{function}+{offset:#x}" if offset else f"{module}!{function}"


def module_label(image_name: str, index: int = -1) -> str:
    """The debugger's name of a module: ``nt`` for the kernel (the first loaded
    module), otherwise the file name without extension."""
    if index == 0 or image_name.lower() in ("ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe",
                                             "ntkrpamp.exe"):
        return "nt"
    return image_name.rsplit(".", 1)[0]


def symbolize(address: int, modules: Iterable[tuple[str, int, int, Mapping[str, int]]]) -> str:
    """Symbolize against (image name, base, size, symbol RVAs) tuples: the nearest
    symbol at or below the address within its module, else ``module+offset``;
    ``address`` alone (hex) outside every module."""
    for index, (name, base, size, symbols) in enumerate(modules):
        if base <= address < base + size:
            rva = address - base
            ordered = sorted((r, n) for n, r in symbols.items())
            position = bisect_right([r for r, _ in ordered], rva)
            if position:
                start, function = ordered[position - 1]
                return format_symbol(module_label(name, index), function, rva - start)
            return format_symbol(module_label(name, index), None, rva)
    return f"{address:#x}"
