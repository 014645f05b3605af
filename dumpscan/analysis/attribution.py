"""Which drivers own a pool tag.

Three sources, each named in the result:
* ``image``: the tag's four bytes occur in the driver's image as the dump holds it
  (the ``findstr /m /l`` trick of the debugger documentation, run over the pages the
  dump has; a driver passes its tag to the allocator as an immediate). Bounded: at
  most ``max_image_bytes`` per module and ``max_total_bytes`` over all modules;
* ``pooltag``: a user-supplied pooltag.txt (``Tag - driver.sys - description``);
* ``verifier``: Driver Verifier tracked an outstanding block of the tag for the driver.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..kernel.common import tag_key
from ..kernel.modules import Module, read_sections
from ..kernel.view import KernelView

MAX_IMAGE_BYTES = 64 << 20
IMAGE_SCN_MEM_WRITE = 0x80000000  # section characteristics flag [PE Format]
MAX_TOTAL_BYTES = 512 << 20


@dataclass(frozen=True)
class Owner:
    name: str  # module / driver name
    source: str  # "image", "pooltag", "verifier"
    detail: str = ""

    def as_dict(self) -> dict:
        out = {"name": self.name, "source": self.source}
        if self.detail:
            out["detail"] = self.detail
        return out


def search_images(view: KernelView, modules: Sequence[Module], keys: Iterable[int],
                  max_image_bytes: int = MAX_IMAGE_BYTES,
                  max_total_bytes: int = MAX_TOTAL_BYTES) -> tuple[dict[int, list[str]], list[str]]:
    """key -> names of the modules whose present image pages contain the tag bytes
    (PROTECTED_POOL bit cleared), and warnings. Only sections that are not writable
    are searched: code and constants, what ``findstr`` sees in the driver file on
    disk, not run-time data (nt's PoolHitTag holds a tag, for one). One vectorised
    pass per range: the bytes are viewed as little-endian dwords at each of the four
    byte phases and matched against all keys at once."""
    wanted = np.unique(np.array([k & 0x7FFFFFFF for k in keys if k & 0x7FFFFFFF], dtype=np.uint32))
    hits: dict[int, list[str]] = {}
    warnings: list[str] = []
    if not len(wanted):
        return hits, warnings
    total = 0
    for module in modules:
        size = min(module.size, max_image_bytes)
        if module.size > max_image_bytes:
            warnings.append(f"tag search: only the first {max_image_bytes >> 20} MiB of {module.name} "
                            "searched")
        if total + size > max_total_bytes:
            warnings.append(f"tag search: stopped before {module.name} (more than "
                            f"{max_total_bytes >> 20} MiB of images)")
            break
        total += size
        data, absent = view.read_pages(module.base, size)
        found: set[int] = set()
        for start, end in _present(absent + _writable(view, module, size), size):
            chunk = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
            for phase in range(4):
                usable = (len(chunk) - phase) // 4
                if usable <= 0:
                    continue
                words = chunk[phase:phase + 4 * usable].view("<u4")
                matched = words[np.isin(words, wanted)]
                found.update(int(w) for w in np.unique(matched))
        for key in found:
            hits.setdefault(key, []).append(module.name)
    return hits, warnings


def _writable(view: KernelView, module: Module, size: int) -> list[tuple[int, int]]:
    """Image-relative ranges of writable sections (IMAGE_SCN_MEM_WRITE, PE Format)."""
    return sorted((max(0, s.start - module.base), min(size, s.end - module.base))
                  for s in read_sections(view, module.base)
                  if s.characteristics & IMAGE_SCN_MEM_WRITE and s.start - module.base < size)


def _present(excluded: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """The parts of [0, size) outside the (possibly overlapping) excluded ranges."""
    ranges, position = [], 0
    for start, end in sorted(excluded):
        if start > position:
            ranges.append((position, start))
        position = max(position, end)
    if position < size:
        ranges.append((position, size))
    return ranges


def parse_pooltag(text: str) -> dict[int, list[tuple[str, str]]]:
    """pooltag.txt lines ``Tag - driver.sys - description`` -> key -> [(driver, description)].
    Comment lines (``//``, ``;``, ``#``) and lines without two fields are skipped; the
    tag is its first four characters, space padded (``Irp `` keeps its space)."""
    out: dict[int, list[tuple[str, str]]] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("//", ";", "#", "rem ")):
            continue
        parts = line.split(" - ", 2)
        if len(parts) < 2:
            continue
        tag = parts[0].lstrip()[:4]
        if not tag.strip():
            continue
        driver = parts[1].strip()
        description = parts[2].strip() if len(parts) > 2 else ""
        out.setdefault(tag_key(tag.ljust(4)), []).append((driver, description))
    return out


def load_pooltag(path: str | Path) -> dict[int, list[tuple[str, str]]]:
    return parse_pooltag(Path(path).read_text(encoding="latin-1"))


def attribute(keys: Iterable[int], image_hits: Mapping[int, list[str]] | None = None,
              pooltag: Mapping[int, list[tuple[str, str]]] | None = None,
              verifier: Mapping[int, Iterable[str]] | None = None) -> dict[int, list[Owner]]:
    """key -> owners (verifier first, then pooltag.txt, then image matches; one entry per
    (name, source))."""
    out: dict[int, list[Owner]] = {}
    for key in keys:
        plain = key & 0x7FFFFFFF
        owners: list[Owner] = []
        for name in sorted(set((verifier or {}).get(key, ()))):
            owners.append(Owner(name, "verifier", "outstanding tracked allocations"))
        for driver, description in (pooltag or {}).get(plain, []):
            owners.append(Owner(driver, "pooltag", description))
        for name in (image_hits or {}).get(plain, []):
            owners.append(Owner(name, "image", "tag bytes in the image"))
        if owners:
            out[key] = owners
    return out
