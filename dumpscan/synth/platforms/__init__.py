"""The platforms the synthetic crash-dump factory can build, keyed by ``Platform.name``.

Three carry real Microsoft kernel symbols (layouts and RVAs extracted from public
Volatility3 ISFs by ``tools/extract_platform.py``); two are synthetic builds whose
layouts come from public headers or are modelled (see each module's docstring and
``docs/layouts.md``).
"""
from __future__ import annotations

from .base import Enum, Function, Platform, Struct
from .win7_x64 import PLATFORM as WIN7_X64
from .win81_x86 import PLATFORM as WIN81_X86
from .win10_x64 import PLATFORM as WIN10_X64
from .win11_x64 import PLATFORM as WIN11_X64
from .win11_24h2_x64 import PLATFORM as WIN11_24H2_X64

PLATFORMS: dict[str, Platform] = {
    p.name: p for p in (WIN7_X64, WIN81_X86, WIN10_X64, WIN11_X64, WIN11_24H2_X64)
}


def get_platform(name: str) -> Platform:
    """The platform called ``name``; KeyError naming the known platforms otherwise."""
    try:
        return PLATFORMS[name]
    except KeyError:
        known = ", ".join(PLATFORMS)
        raise KeyError(f"unknown platform {name!r}; known platforms: {known}") from None


__all__ = ["Enum", "Function", "PLATFORMS", "Platform", "Struct", "get_platform"]
