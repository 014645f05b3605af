"""Bad input: corrupted COPIES of the bundled dumps, through the library (``analyze_path``)
and through the command line (``dumpscan analyze --format json``).

Every corruption patches bytes at the file offset of a kernel structure, found with the
library itself: the symbol's or pointer's virtual address from the KernelView, translated
to a physical address by the opened dump's Volatility layer, then to a file offset by
``CrashDump.file_offset``. The originals are never touched (and a test checks that an
analysis leaves its input byte-identical).

The rule under test: bad input gets one clear line naming the dump and what is wrong, or
warnings with partial results where those are sound (compared with the factory's truth);
never a hang (library calls run under an alarm, the CLI under a subprocess timeout), a
traceback, silence or invented values.
"""
from __future__ import annotations

import hashlib
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from dumpscan.analysis.engine import analyze_path
from dumpscan.kernel.bigpool import read_big_pool
from dumpscan.kernel.common import member
from dumpscan.kernel.lists import decode_slist_header
from dumpscan.kernel.modules import read_modules
from dumpscan.kernel.verifier import read_verifier
from dumpscan.vol.errors import DumpOpenError, NotAKernelDump, SymbolsMismatch, SymbolsMissing
from dumpscan.vol.open import open_kernel

ROOT = Path(__file__).resolve().parents[1]
DUMPS = ROOT / "testdata" / "dumps"
SYMBOLS = ROOT / "testdata" / "symbols"
DUMPSCAN = Path(sys.executable).with_name("dumpscan")
VERIFIER = "win10-x64-verifier-bitmap"  # 4 processors, two verified drivers, a trace log
LIBRARY_SECONDS = 30
CLI_SECONDS = 90


# -- plumbing -----------------------------------------------------------------------------------
class Hang(Exception):
    pass


@contextmanager
def deadline(seconds: int = LIBRARY_SECONDS):
    """Fail fast instead of hanging (SIGALRM; the tests run in the main thread)."""
    def expired(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def library(path: Path, symbols: list[Path] | None = None) -> dict:
    with deadline():
        return analyze_path(path, symbols or [SYMBOLS])


def library_error(path: Path, symbols: list[Path] | None = None) -> DumpOpenError:
    with deadline(), pytest.raises(DumpOpenError) as info:
        analyze_path(path, symbols or [SYMBOLS])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    return info.value


def cli(*paths: Path, symbols: Path = SYMBOLS) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(DUMPSCAN), "analyze", "--format", "json", "-s", str(symbols),
                           *map(str, paths)], capture_output=True, text=True, timeout=CLI_SECONDS,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-2000:]
    return proc


def cli_report(path: Path) -> tuple[dict, subprocess.CompletedProcess]:
    """A dump that must still be analyzed: exit 0, one JSON document, one-line stderr."""
    proc = cli(path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for line in proc.stderr.splitlines():
        assert line.startswith(f"dumpscan: {path}: ") or line.startswith(f"{path}: "), line
    return json.loads(proc.stdout), proc


def cli_error(path: Path, expected: str, symbols: Path = SYMBOLS) -> str:
    """A dump that cannot be analyzed: exit 2 and one line naming it and the problem."""
    proc = cli(path, symbols=symbols)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout.strip() == ""
    lines = [line for line in proc.stderr.splitlines() if line.startswith(f"dumpscan: {path}: ")
             and expected in line]
    assert lines, proc.stderr
    return lines[0]


class Located:
    """An opened bundled dump that turns kernel virtual addresses into file offsets."""

    def __init__(self, path: Path, symbols: list[Path]) -> None:
        self.path = path
        self.opened = open_kernel(path, symbols)
        self.view = self.opened.view
        self.layer = self.opened.context.layers[self.opened.layer_name]

    def offset(self, va: int) -> int:
        physical, _ = self.layer.translate(va & self.layer.address_mask)
        return self.opened.dump.file_offset(physical >> 12) + (physical & 0xFFF)

    def pointer(self, symbol: str) -> int:
        return self.view.canonical(self.view.read_pointer(self.view.symbol(symbol)))


@lru_cache(maxsize=None)
def located(name: str) -> Located:
    return Located(DUMPS / f"{name}.dmp", [SYMBOLS])


@lru_cache(maxsize=None)
def original(name: str) -> str:
    return json.dumps(library(DUMPS / f"{name}.dmp"))


def truth(name: str) -> dict:
    return json.loads((DUMPS / f"{name}.truth.json").read_text())


def corrupt(tmp_path: Path, source: Path, patches: list[tuple[int, bytes]], label: str = "bad") -> Path:
    """A patched copy of ``source`` (never the original)."""
    target = tmp_path / f"{source.stem}-{label}.dmp"
    shutil.copyfile(source, target)
    with open(target, "r+b") as handle:
        for offset, data in patches:
            handle.seek(offset)
            handle.write(data)
    return target


def le(value: int, width: int = 8) -> bytes:
    return value.to_bytes(width, "little")


# -- truncated dumps ------------------------------------------------------------------------------
def test_truncated_inside_the_page_data_keeps_what_survives(tmp_path):
    """Cut in the middle of the big-pool table: its first half and everything before it
    still read, the rest is absent (named), nothing invented."""
    where = located(VERIFIER)
    table = where.pointer("PoolBigPageTable")
    cut = where.offset(table + 0x3000) + 0x800  # half-way into the table's fourth page
    target = tmp_path / "truncated.dmp"
    target.write_bytes(where.path.read_bytes()[:cut])
    report = library(target)
    warnings = report["warnings"]
    assert any("file truncated" in w and "treated as absent" in w for w in warnings)
    assert any(w.startswith("table PoolBigPageTable: entries 512..1023 absent from the dump") for w in warnings)
    big = next(t for t in report["coverage"]["tables"] if t["name"] == "PoolBigPageTable")
    assert big["entries_read"] == 512 and big["absent_ranges"] == [[512, 1024]]
    # the surviving rows are exactly the truth's rows that sit in entries 0..511
    entries = read_big_pool(where.view).entries
    kept = {int(va) for va, index in zip(entries["va"], entries["index"]) if index < 512}
    expected = [row for row in truth(VERIFIER)["bigpool"] if row["va"] in kept]
    assert [{k: row[k] for k in expected[0]} for row in report["bigpool"]] == expected
    # the tag tables lie past the cut: no rows, no totals made up
    assert report["tags"] == [] and report["tags_partial"] == []
    assert any("table PoolTrackTable: entries 0..256 absent" in w for w in warnings)
    # the modules and the verifier (before the cut) are whole
    assert report["modules"] == json.loads(original(VERIFIER))["modules"]
    cli_report(target)


def test_truncated_before_the_page_tables_is_one_line(tmp_path):
    where = located(VERIFIER)
    cut = where.opened.dump.file_offset(where.opened.dtb >> 12)  # the DTB page is lost
    target = tmp_path / "truncated.dmp"
    target.write_bytes(where.path.read_bytes()[:cut])
    error = library_error(target)
    assert "DirectoryTableBase" in error.message and "truncated" in error.message
    cli_error(target, "is a page not in the dump")


def test_truncated_inside_the_header(tmp_path):
    target = tmp_path / "header.dmp"
    target.write_bytes((DUMPS / f"{VERIFIER}.dmp").read_bytes()[:0x800])
    error = library_error(target)
    assert isinstance(error, NotAKernelDump)
    assert "truncated header: the file is 0x800 bytes" in error.message
    cli_error(target, "truncated header")


# -- zeroed pages in tables -------------------------------------------------------------------------
def test_zeroed_big_pool_page(tmp_path):
    where = located(VERIFIER)
    table = where.pointer("PoolBigPageTable")
    target = corrupt(tmp_path, where.path, [(where.offset(table + 0x2000), bytes(0x1000))])
    report = library(target)
    # entries 342..511 lie wholly in the zeroed page (0x18-byte entries; 341 straddles it)
    assert any(w.startswith("table PoolBigPageTable: entries 341..511 are all zero") or
               w.startswith("table PoolBigPageTable: entries 342..511 are all zero")
               for w in report["warnings"]), report["warnings"]
    coverage = next(t for t in report["coverage"]["tables"] if t["name"] == "PoolBigPageTable")
    assert coverage["entries_zero_filled"] > 0
    lost = [range(i, j) for i, j in coverage["zero_filled_ranges"]]
    entries = read_big_pool(where.view).entries
    gone = {int(va) for va, index in zip(entries["va"], entries["index"]) if any(index in r for r in lost)}
    assert gone, "the zeroed page held live entries"
    expected = [row for row in truth(VERIFIER)["bigpool"] if row["va"] not in gone]
    assert [{k: row[k] for k in expected[0]} for row in report["bigpool"]] == expected
    # the in-use count no longer takes zeros for live entries: no false counter warning
    assert not any("ExpPoolBigEntriesInUse says" in w for w in report["warnings"])
    assert cli_report(target)[0]["bigpool"] == report["bigpool"]


def _tag_rows_check(report: dict, name: str) -> None:
    """Complete rows equal the truth; partial ones are apart and flagged."""
    rows = {row["key"]: row for row in truth(name)["tags"]}
    assert report["tags_partial"], "a lost page must make some totals partial"
    for row in report["tags"]:
        assert {k: row[k] for k in rows[row["key"]]} == rows[row["key"]], row["tag"]
    assert all(row["partial"] for row in report["tags_partial"])
    listed = {row["key"] for row in report["tags"]} | {row["key"] for row in report["tags_partial"]}
    assert listed <= set(rows)
    assert not {row["key"] for row in report["tags"]} & {row["key"] for row in report["tags_partial"]}
    assert any("totals of" in w and "are partial" in w for w in report["warnings"])


@pytest.mark.parametrize("slot", [0, 1], ids=["global-table", "processor-1-table"])
def test_zeroed_tag_table_page(tmp_path, slot):
    where = located(VERIFIER)
    view = where.view
    table = view.canonical(view.read_pointer(view.symbol("ExPoolTagTables") + slot * view.pointer_size))
    target = corrupt(tmp_path, where.path, [(where.offset(table + 0x1000), bytes(0x1000))])
    report = library(target)
    source = "PoolTrackTable" if slot == 0 else f"ExPoolTagTables[{slot}]"
    assert any(w.startswith(f"table {source}: entries 73..146 are zero over a whole page")
               for w in report["warnings"]), report["warnings"]
    coverage = next(t for t in report["coverage"]["tables"] if t["name"] == source)
    assert coverage["zero_filled_ranges"] == [[73, 147]]
    _tag_rows_check(report, VERIFIER)
    # no verdict from partial totals, and no 'negative total' noise from them
    assert not any("negative" in w for w in report["warnings"])
    cli_report(target)


def test_clean_dumps_have_no_zero_filled_pages():
    """The zero-page rules must not fire on sound dumps (sparse tables included)."""
    for name in ("win10-x64-verifier-full", "win7-x64-poolhittag", "win81-x86-verifier",
                 "win11-x64-verifier-full", "win10-x64-series-t2"):
        report = json.loads(original(name))
        assert report["tags_partial"] == []
        assert not any("zero" in w for w in report["warnings"]), (name, report["warnings"])


@pytest.fixture(scope="module")
def many_pages(tmp_path_factory) -> Located:
    """A small factory machine whose contoso.sys has five tracker pages."""
    from dumpscan.synth.build import build_scenario
    from dumpscan.synth.scenarios import large_scenario

    out = tmp_path_factory.mktemp("many-pages")
    result = build_scenario(large_scenario(2000, 600, 4), out, out / "symbols")
    return Located(result.dump, [out / "symbols"])


def _driver(section: dict, name: str) -> dict:
    """A driver of a report's (or truth's) ``verifier`` section, or of a whole report."""
    section = section.get("verifier", section) if "drivers" not in section else section
    return next(d for d in section["drivers"] if d["name"] == name)


def test_zeroed_tracker_page_in_the_middle_of_the_chain(tmp_path, many_pages):
    symbols = [many_pages.path.parent / "symbols"]
    state = read_verifier(many_pages.view, read_modules(many_pages.view).modules)
    contoso = next(d for d in state.drivers if d.name == "contoso.sys")
    assert len(contoso.pages) == 5
    victim = contoso.pages[2]
    target = corrupt(tmp_path, many_pages.path, [(many_pages.offset(victim), bytes(0x1000))])
    before = _driver(library(many_pages.path, symbols), "contoso.sys")["allocations"]
    truth_file = many_pages.path.with_name(many_pages.path.stem + ".truth.json")
    truth_rows = _driver(json.loads(truth_file.read_text())["verifier"], "contoso.sys")["allocations"]
    assert [{k: a[k] for k in truth_rows[0]} for a in before] == truth_rows
    report = library(target, symbols)
    warnings = report["warnings"]
    assert any(f"tracker page {victim:#x} rejected" in w and "slots are unknown" in w for w in warnings)
    assert any("the SLIST depth says 5 tracker pages" in w for w in warnings)
    assert any("2 more tracker pages found among the big-pool table's 'Vepp' blocks" in w for w in warnings)
    after = _driver(report, "contoso.sys")["allocations"]
    expected = [a for a in before if a["slot"] & ~0xFFF != victim]
    assert len(expected) < len(before)
    assert after == expected  # every other page's allocations, nothing invented
    assert _driver(report, "myfault.sys")["allocations"] == _driver(library(many_pages.path, symbols),
                                                                    "myfault.sys")["allocations"]


# -- cycles ---------------------------------------------------------------------------------------
def test_cyclic_tracker_free_list(tmp_path):
    where = located(VERIFIER)
    view = where.view
    state = read_verifier(view, read_modules(view).modules)
    contoso = next(d for d in state.drivers if d.name == "contoso.sys")
    offset, _ = member(view, "_VF_TARGET_VERIFIED_DRIVER_DATA", "PoolTrackers")
    head = decode_slist_header(view, view.read(contoso.data + offset, 16), contoso.data + offset)
    first = head.first
    third = view.read_pointer(view.read_pointer(first))
    target = corrupt(tmp_path, where.path, [(where.offset(third), le(first))])  # 3rd -> 1st
    report = library(target)
    assert any("PoolTrackers: the chain loops back to" in w for w in report["warnings"])
    rows = _driver(truth(VERIFIER)["verifier"], "contoso.sys")["allocations"]
    got = _driver(report["verifier"], "contoso.sys")["allocations"]
    assert [{k: a[k] for k in rows[0]} for a in got] == rows  # no free slot taken for a leak
    assert not any("outstanding tracker slots, but" in w for w in report["warnings"])
    cli_report(target)


def test_cyclic_loaded_module_list(tmp_path):
    where = located(VERIFIER)
    modules = read_modules(where.view).modules
    # the fourth entry's Flink points back at the second
    target = corrupt(tmp_path, where.path, [(where.offset(modules[3].entry), le(modules[1].entry))])
    report = library(target)
    assert any("PsLoadedModuleList: the list loops back to" in w for w in report["warnings"])
    assert any("walking Blink back from the head recovered 4 more entries" in w for w in report["warnings"])
    assert report["modules"] == json.loads(original(VERIFIER))["modules"]
    assert report["coverage"]["modules"]["complete"] is False
    assert [{k: m[k] for k in ("name", "base", "size")} for m in report["modules"]] == truth(VERIFIER)["modules"]
    cli_report(target)


def test_cyclic_suspect_driver_list(tmp_path):
    where = located(VERIFIER)
    view = where.view
    head = view.symbol("VfSuspectDriversList")
    first = view.canonical(view.read_pointer(head))
    second = view.canonical(view.read_pointer(first))
    target = corrupt(tmp_path, where.path, [(where.offset(second), le(second))])  # a self-loop
    report = library(target)
    assert any("VfSuspectDriversList: the list loops back to" in w for w in report["warnings"])
    assert report["verifier"]["suspect_drivers"] == json.loads(original(VERIFIER))["verifier"]["suspect_drivers"]
    cli_report(target)


# -- absurd sizes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("symbol, value, width, expect", [
    ("PoolBigPageTableSize", 1 << 32, 8, "table PoolBigPageTable: entry count 0x100000000 is implausible"),
    ("PoolTrackTableSize", 1 << 32, 8, "PoolTrackTableSize 0x100000000 is implausible"),
    ("VfPoolTracesLength", 0xFFFFFFFF, 4, "VfPoolTracesLength 0xffffffff is implausible"),
], ids=["big-pool", "tag-tables", "trace-log"])
def test_absurd_table_size_is_capped(tmp_path, symbol, value, width, expect):
    where = located(VERIFIER)
    target = corrupt(tmp_path, where.path, [(where.offset(where.view.symbol(symbol)), le(value, width))])
    import resource
    import time

    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = library(target)
    assert time.monotonic() - start < 10
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 300, f"{grown_mib:.0f} MiB more memory for a {symbol} of {value:#x}"
    assert any(expect in w for w in report["warnings"]), report["warnings"]
    assert len(report["warnings"]) < 12  # summed up, not one line per absent range
    full = json.loads(original(VERIFIER))
    if symbol == "PoolBigPageTableSize":
        assert report["bigpool"] == full["bigpool"]
    elif symbol == "PoolTrackTableSize":
        assert report["tags"] == full["tags"]
    else:
        # the ring's true length is unknown: what is kept are real records only
        records = {(r["address"], r["size"], r["thread"], tuple(r["stack"])) for r in full["verifier"]["trace_log"]}
        kept = report["verifier"]["trace_log"]
        assert kept and all((r["address"], r["size"], r["thread"], tuple(r["stack"])) in records for r in kept)
        assert any("do not hold trace records" in w for w in report["warnings"])
    cli_report(target)


# -- symbols ---------------------------------------------------------------------------------------
def _kernel_isf(name: str) -> tuple[Path, dict]:
    kernel = truth(name)["kernel"]
    path = SYMBOLS / "windows" / kernel["pdb"] / f"{kernel['guid']}-{kernel['age']}.json.xz"
    return path, kernel


def test_symbol_table_with_another_guid(tmp_path):
    name = "win7-x64-poolhittag"
    source, kernel = _kernel_isf(name)
    document = json.loads(lzma.decompress(source.read_bytes()))
    document["metadata"]["windows"]["pdb"]["GUID"] = "0123456789ABCDEF0123456789ABCDEF"
    target = tmp_path / "symbols" / "windows" / kernel["pdb"] / source.name
    target.parent.mkdir(parents=True)
    target.write_bytes(lzma.compress(json.dumps(document).encode()))
    dump = DUMPS / f"{name}.dmp"
    error = library_error(dump, [tmp_path / "symbols"])
    assert isinstance(error, SymbolsMismatch)
    assert "0123456789ABCDEF0123456789ABCDEF" in error.message and kernel["guid"] in error.message
    cli_error(dump, f"its metadata names GUID 0123456789ABCDEF0123456789ABCDEF age 1, not {kernel['guid']}",
              symbols=tmp_path / "symbols")


def test_missing_symbol_table(tmp_path):
    name = "win81-x86-verifier"
    _, kernel = _kernel_isf(name)
    dump = DUMPS / f"{name}.dmp"
    (tmp_path / "empty").mkdir()
    error = library_error(dump, [tmp_path / "empty"])
    assert isinstance(error, SymbolsMissing)
    where = tmp_path / "empty" / "windows" / kernel["pdb"] / f"{kernel['guid']}-{kernel['age']}.json.xz"
    assert f"{kernel['pdb']} GUID {kernel['guid']} age {kernel['age']}" in error.message
    assert str(where) in error.message
    line = cli_error(dump, f"no symbol table for {kernel['pdb']} GUID {kernel['guid']} age {kernel['age']}",
                     symbols=tmp_path / "empty")
    assert str(where) in line


def test_missing_symbols_never_searches_a_whole_tree(tmp_path):
    """A symbol directory given as a big tree (here: the file system root) is not walked."""
    import time

    start = time.monotonic()
    error = library_error(DUMPS / "win81-x86-verifier.dmp", [Path("/")])
    assert isinstance(error, SymbolsMissing)
    assert time.monotonic() - start < 10


# -- not a dump ------------------------------------------------------------------------------------
def test_random_bytes(tmp_path):
    target = tmp_path / "random.dmp"
    target.write_bytes(np.random.default_rng(7).integers(0, 256, 0x30000, dtype=np.uint8).tobytes())
    error = library_error(target)
    assert isinstance(error, NotAKernelDump) and "expected 'PAGEDUMP' or 'PAGEDU64'" in error.message
    cli_error(target, "not a Windows kernel crash dump")


def test_empty_file(tmp_path):
    target = tmp_path / "empty.dmp"
    target.write_bytes(b"")
    error = library_error(target)
    assert error.message == "not a Windows kernel crash dump: the file is empty (0 bytes)"
    cli_error(target, "the file is empty")


def test_directory(tmp_path):
    target = tmp_path / "folder.dmp"
    target.mkdir()
    error = library_error(target)
    assert isinstance(error, NotAKernelDump) and "cannot open" in error.message
    proc = cli(target)  # the CLI walks a directory for *.dmp files: none here
    assert proc.returncode == 2 and proc.stdout.strip() == ""
    assert any(line.startswith(f"dumpscan: {target}: ") for line in proc.stderr.splitlines()), proc.stderr


# -- several dumps, one bad --------------------------------------------------------------------------
def test_good_dumps_are_analyzed_around_a_bad_one(tmp_path):
    bad = tmp_path / "bad.dmp"
    bad.write_bytes(b"MDMP" + bytes(0x100))
    a, b = DUMPS / "win7-x64-poolhittag.dmp", DUMPS / "win10-x64-live-kernel.dmp"
    proc = cli(a, bad, b)
    # documented (dumpscan/cli.py): 3 when some dumps could not be analyzed, 2 when none could
    assert proc.returncode == 3, proc.stderr
    documents = json.loads(proc.stdout)
    assert [d["header"]["dump"] for d in documents] == [str(a), str(b)]
    errors = [line for line in proc.stderr.splitlines() if line.startswith(f"dumpscan: {bad}: ")]
    assert len(errors) == 1 and "not a Windows kernel crash dump" in errors[0]
    nothing = cli(bad, tmp_path / "missing.dmp")
    assert nothing.returncode == 2 and nothing.stdout.strip() == ""


# -- inputs stay as they were ---------------------------------------------------------------------------
def test_analysis_never_modifies_the_dump(tmp_path):
    where = located(VERIFIER)
    table = where.pointer("PoolBigPageTable")
    target = corrupt(tmp_path, where.path, [(where.offset(table + 0x2000), bytes(0x1000))])
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    stamp = target.stat().st_mtime_ns
    library(target)
    cli(target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest
    assert target.stat().st_mtime_ns == stamp


# -- review fixes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shift", [8, 0x38], ids=["misaligned", "shifted-by-an-entry"])
def test_per_processor_slot_into_the_global_table_is_skipped(tmp_path, shift):
    """ExPoolTagTables[1] pointing into the global table invents no tags and leaves the
    real totals alone (processor 1's own counters are lost, so those tags may differ)."""
    where = located(VERIFIER)
    view = where.view
    slot = view.symbol("ExPoolTagTables") + view.pointer_size
    target = corrupt(tmp_path, where.path, [(where.offset(slot), le(where.pointer("PoolTrackTable") + shift))])
    report = library(target)
    skipped = [w for w in report["warnings"] if "ExPoolTagTables[1]" in w and "skipped" in w]
    assert len(skipped) == 1, report["warnings"]
    truth_keys = {row["key"] for row in truth(VERIFIER)["tags"]}
    assert {row["key"] for row in report["tags"] + report["tags_partial"]} <= truth_keys
    cli_report(target)
