"""Fuzzing with hypothesis: mutated COPIES of bundled dumps through the library.

Two mutation families, each drawn by hypothesis:

* header fields: one integer field of the crash-dump header (every field of
  ``DUMP_HEADER64``/``DUMP_HEADER32``, nested ones included) or of the header that
  follows it (bitmap 'SDMP'/'FDMP', 'RDMP' and its first page ranges), set to an extreme
  or arbitrary value of its width;
* table pages: one page of a kernel structure the analysis reads (the pages of the
  globals, the big-pool and tag tables, the loader entries, the verifier's data and trace
  ring), zeroed, randomized, or hit with extreme values at aligned offsets.

Each example must end, within a deadline, in either a report (every warning one line, a
JSON document) or the documented one-line ``DumpOpenError`` naming the dump; anything
else (another exception: a traceback for the user) fails. The mutated file must be
byte-identical after the analysis.

CI runs a bounded number of examples with a fixed seed. A longer run, with fresh examples::

    DUMPSCAN_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_fuzz.py

(see docs/testing.md).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np
from construct import Array, Padded, Renamed, Struct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dumpscan.analysis.engine import analyze_path
from dumpscan.dumpfile import headers
from dumpscan.vol.errors import DumpOpenError

from test_bad_input import DUMPS, SYMBOLS, deadline, located

# CI: a bounded, fixed set of examples; DUMPSCAN_FUZZ_EXAMPLES=N: a longer run with fresh ones
LONG_RUN = os.environ.get("DUMPSCAN_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(LONG_RUN) if LONG_RUN else 25, derandomize=not LONG_RUN, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# small bundled dumps covering the containers: bitmap (5), SDMP kernel, RDMP (8), full (1), x86 PAE
FUZZ_DUMPS = ("win10-x64-verifier-bitmap", "win10-x64-kernel-sdmp", "win10-x64-rdmp-kernel",
              "win7-x64-poolhittag", "win81-x86-verifier")
EXAMPLE_SECONDS = 30  # a hang guard per example, not a speed target
RDMP_RANGES_SHOWN = 4


def integer_fields(con, base: int = 0):
    """(offset, width) of every integer-sized leaf field of a construct declaration."""
    while isinstance(con, Renamed):
        con = con.subcon
    if isinstance(con, Struct):
        position = 0
        for sub in con.subcons:
            yield from integer_fields(sub, base + position)
            position += sub.sizeof()
    elif isinstance(con, Array):
        for index in range(con.count):
            yield from integer_fields(con.subcon, base + index * con.subcon.sizeof())
    elif isinstance(con, Padded):
        yield from integer_fields(con.subcon, base)
    elif con.sizeof() in (1, 2, 4, 8):
        yield base, con.sizeof()


@lru_cache(maxsize=None)
def header_fields(name: str) -> tuple[tuple[int, int], ...]:
    """The header fields of one bundled dump, main header and the header after it."""
    data = (DUMPS / f"{name}.dmp").read_bytes()[:0x3000]
    is64 = data[4:8] == b"DU64"
    size = headers.HEADER_SIZE64 if is64 else headers.HEADER_SIZE32
    fields = list(integer_fields(headers.DUMP_HEADER64 if is64 else headers.DUMP_HEADER32))
    second = data[size:size + 8]
    if second[:4] in (b"SDMP", b"FDMP"):
        fields += [(size + o, w) for o, w in integer_fields(headers.BITMAP_HEADER)]
    elif second[4:8] == b"RDMP":
        fields += [(size + o, w) for o, w in integer_fields(headers.RDMP_HEADER)]
        fields += [(size + 0x20 + o, w) for o, w in integer_fields(headers.FULL_RDMP_TAIL)]
        fields += [(size + headers.RDMP_RANGES_OFFSET + i * 16 + o, w)
                   for i in range(RDMP_RANGES_SHOWN) for o, w in integer_fields(headers.PFN_RANGE)]
    return tuple(fields)


@lru_cache(maxsize=None)
def table_pages(name: str) -> tuple[int, ...]:
    """File offsets of the dump pages holding the kernel structures the analysis reads."""
    from dumpscan.kernel.modules import read_modules
    from dumpscan.kernel.verifier import read_verifier

    where = located(name)
    view = where.view
    addresses = [view.symbol(s) for s in ("PoolTrackTableSize", "PoolBigPageTable", "PoolBigPageTableSize",
                                          "ExPoolTagTables", "KeNumberProcessors", "MmVerifierData",
                                          "ViTargetDriversAvl", "VfPoolTraces", "PsLoadedModuleList",
                                          "PoolHitTag") if view.has_symbol(s)]
    for pointer in ("PoolBigPageTable", "PoolTrackTable", "VfPoolTraces"):
        if view.has_symbol(pointer):
            table = where.pointer(pointer)
            addresses += [table + k * 0x1000 for k in range(3)] if table else []
    if view.has_symbol("ExPoolTagTables"):
        addresses.append(view.canonical(view.read_pointer(view.symbol("ExPoolTagTables") + view.pointer_size)))
    modules = read_modules(view).modules
    addresses += [m.entry for m in modules[:4]]
    state = read_verifier(view, modules)
    for driver in state.drivers:
        addresses += [driver.data] + list(driver.pages[:2])
    pages = set()
    for va in addresses:
        try:
            pages.add(where.offset(va & ~0xFFF))
        except Exception:  # an address this dump does not hold: nothing to mutate
            continue
    return tuple(sorted(pages))


def edge_values(width: int) -> list[int]:
    """The extreme values of an unsigned field ``width`` bytes wide."""
    top = (1 << 8 * width) - 1
    return sorted({0, 1, 0x1000 & top, top >> 1, (top >> 1) + 1, top - 1, top})


def extreme(width: int):
    return st.one_of(st.sampled_from(edge_values(width)), st.integers(0, (1 << 8 * width) - 1))


@st.composite
def header_mutation(draw):
    name = draw(st.sampled_from(FUZZ_DUMPS))
    offset, width = draw(st.sampled_from(header_fields(name)))
    return name, [(offset, draw(extreme(width)).to_bytes(width, "little"))]


@st.composite
def page_mutation(draw):
    name = draw(st.sampled_from(FUZZ_DUMPS))
    page = draw(st.sampled_from(table_pages(name)))
    kind = draw(st.sampled_from(["zero", "random", "values"]))
    if kind == "zero":
        return name, [(page, bytes(0x1000))]
    if kind == "random":
        seed = draw(st.integers(0, 2**32 - 1))
        return name, [(page, np.random.default_rng(seed).integers(0, 256, 0x1000, np.uint8).tobytes())]
    writes = draw(st.lists(st.tuples(st.integers(0, 0x1FF), extreme(8)), min_size=1, max_size=8))
    return name, [(page + 8 * slot, value.to_bytes(8, "little")) for slot, value in writes]


def check(tmp_path: Path, name: str, patches: list[tuple[int, bytes]]) -> None:
    target = tmp_path / f"{name}-fuzz.dmp"
    shutil.copyfile(DUMPS / f"{name}.dmp", target)
    with open(target, "r+b") as handle:
        for offset, data in patches:
            handle.seek(offset)
            handle.write(data)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    try:
        with deadline(EXAMPLE_SECONDS):
            report = analyze_path(target, [SYMBOLS])
    except DumpOpenError as exc:  # the documented one-line refusal
        text = str(exc)
        assert "\n" not in text and text.startswith(f"{target}: ") and exc.message, text
    else:
        json.dumps(report)
        for warning in report["warnings"]:
            assert isinstance(warning, str) and "\n" not in warning, warning
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest, "the input was modified"


@FUZZ
@given(mutation=header_mutation())
def test_fuzz_header_fields(tmp_path, mutation):
    check(tmp_path, *mutation)


@FUZZ
@given(mutation=page_mutation())
def test_fuzz_table_pages(tmp_path, mutation):
    check(tmp_path, *mutation)


def test_fuzz_strategies_reach_their_targets():
    """The strategies draw from real places: header fields at their documented offsets,
    table pages inside the files."""
    fields = dict(header_fields("win10-x64-verifier-bitmap"))
    assert fields[0xF98] == 4 and fields[0x2020] == 8  # DumpType; bitmap HeaderSize
    assert fields[headers.offset_of(headers.DUMP_HEADER64, "PhysicalMemoryBlock.NumberOfPages")] == 8
    assert len(table_pages("win10-x64-verifier-bitmap")) >= 10
    size = (DUMPS / "win81-x86-verifier.dmp").stat().st_size
    assert all(0 < page < size for page in table_pages("win81-x86-verifier"))
    for width in (1, 2, 4, 8):  # every drawn value fits its field
        assert all(0 <= v < 1 << 8 * width for v in edge_values(width))
        assert edge_values(width)[-1] == (1 << 8 * width) - 1
