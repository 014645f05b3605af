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
    assert time.monotonic() - start < 60  # a guard against a hang; speed is benchmarks/'s
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
    assert time.monotonic() - start < 60  # a guard against a hang; speed is benchmarks/'s


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


# -- bounded work of the tag-table section ----------------------------------------------------------
MEASURE = """
import json, resource, sys, time
from dumpscan.analysis.engine import analyze_path
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.monotonic()
report = analyze_path(sys.argv[1], [sys.argv[2]])
print(json.dumps({"seconds": time.monotonic() - start,
                  "grown_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024,
                  "report": report}))
"""
WORST_SECONDS = 5  # the bound the issue sets for the worst tag-table inputs
WORST_MIB = 500


def measured(path: Path) -> dict:
    """Analyze in a fresh interpreter: wall time of the analysis and its peak-RSS growth."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(SYMBOLS)], capture_output=True,
                          text=True, timeout=CLI_SECONDS, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["seconds"] < WORST_SECONDS, f"{result['seconds']:.1f} s"
    assert result["grown_mib"] < WORST_MIB, f"{result['grown_mib']:.0f} MiB"
    return result["report"]


@pytest.mark.parametrize("seed", [1, 2])
def test_random_bytes_over_the_tag_table_globals_page(tmp_path, seed):
    """The kernel page holding PoolTrackTableSize/Mask, PoolTrackTable and the first
    ExPoolTagTables slots, randomized: bounded time and memory, a few lines of warnings,
    nothing invented (no tag the dump does not hold)."""
    where = located(VERIFIER)
    page = where.view.symbol("PoolTrackTableSize") & ~0xFFF
    assert where.view.symbol("ExPoolTagTables") & ~0xFFF == page
    noise = np.random.default_rng(seed).integers(0, 256, 0x1000, dtype=np.uint8).tobytes()
    target = corrupt(tmp_path, where.path, [(where.offset(page), noise)], f"random{seed}")
    report = measured(target)
    assert len(report["warnings"]) < 20, report["warnings"]
    assert any("non-null slots past the processor count (4) were not read" in w for w in report["warnings"])
    assert any(w.startswith("PoolTrackTableExpansion = ") and "the expansion table was not read" in w
               for w in report["warnings"]), report["warnings"]
    truth_keys = {row["key"] for row in truth(VERIFIER)["tags"]}
    assert {row["key"] for row in report["tags"] + report["tags_partial"]} <= truth_keys
    assert report["modules"] == json.loads(original(VERIFIER))["modules"]  # the other sections stand


@pytest.mark.parametrize("size", [1 << 32, (1 << 22) + 1], ids=["2^32", "2^22+1"])
def test_huge_tag_table_size_with_absent_per_processor_tables(tmp_path, size):
    """PoolTrackTableSize 2^32 or 2^22 + 1 (its mask agreeing) and 64 processors whose tables
    1..63 point at aligned kernel addresses the dump lacks: bounded, the global table kept
    whole (its size found by the 'Ovfl' entry), the bad slots named in one warning."""
    slots = 63
    where = located(VERIFIER)
    view = where.view
    slots_va = view.symbol("ExPoolTagTables")
    patches = [(where.offset(view.symbol("PoolTrackTableSize")), le(size)),
               (where.offset(view.symbol("PoolTrackTableMask")), le(size - 2)),
               (where.offset(view.symbol("KeNumberProcessors")), le(slots + 1, 4))]
    patches += [(where.offset(slots_va + 8 * i), le(0xFFFFA00000000000 + i * 0x100000))
                for i in range(1, slots + 1)]
    target = corrupt(tmp_path, where.path, patches, f"size-{size:x}")
    report = measured(target)
    warnings = report["warnings"]
    assert any("'Ovfl'" in w and "index 0x100" in w and "gives 0x101 entries" in w for w in warnings), warnings
    skipped = [w for w in warnings if f"tag tables: {slots} ExPoolTagTables slot(s)" in w]
    assert len(skipped) == 1 and "(absent from the dump)" in skipped[0], warnings
    assert report["coverage"]["tag_tables_read"][0] == "PoolTrackTable"
    global_table = next(t for t in report["coverage"]["tables"] if t["name"] == "PoolTrackTable")
    assert global_table["entries_read"] == global_table["entries_requested"] == 0x101
    # every tag of the truth is there (the lost per-processor counters change some sums only)
    assert {row["key"] for row in report["tags"] + report["tags_partial"]} == \
        {row["key"] for row in truth(VERIFIER)["tags"]}
    assert len(warnings) < 20, warnings


# -- impossible values ----------------------------------------------------------------------------------
def _big_entry(where: Located, live: bool = True) -> tuple[int, int]:
    """(table index, Va) of the first big-pool entry of the truth that is live (or freed)."""
    entries = read_big_pool(where.view).entries
    row = next(r for r in truth(VERIFIER)["bigpool"] if r["free"] is not live)
    index = int(entries["index"][entries["va"] == row["va"]][0])
    return index, row["va"]


def _big_field(where: Located, index: int, field: str) -> int:
    view = where.view
    size = view.layout("_POOL_TRACKER_BIG_PAGES").size
    return where.offset(where.pointer("PoolBigPageTable") + index * size) + \
        member(view, "_POOL_TRACKER_BIG_PAGES", field)[0]


@pytest.mark.parametrize("value", [2**64 - 1, 2**63], ids=["2^64-1", "2^63"])
def test_big_pool_size_past_the_address_space(tmp_path, value):
    """An entry whose NumberOfBytes cannot fit is left out with a warning; the summary's
    big-pool bytes are the other live blocks' (no wrap modulo 2^64)."""
    where = located(VERIFIER)
    index, va = _big_entry(where)
    target = corrupt(tmp_path, where.path, [(_big_field(where, index, "NumberOfBytes"), le(value))])
    report = library(target)
    assert any(f"entry {index} (Va {va:#x}, NumberOfBytes {value:#x})" in w and "address space" in w
               for w in report["warnings"]), report["warnings"]
    expected = [row for row in truth(VERIFIER)["bigpool"] if row["va"] != va]
    assert [{k: row[k] for k in expected[0]} for row in report["bigpool"]] == expected
    document, _ = cli_report(target)
    summary = document["leaks"]["summary"]
    assert summary["bigpool_bytes"] == sum(row["bytes"] for row in expected if not row["free"])


def test_big_pool_unused_slot_with_a_key_is_no_block(tmp_path):
    """Va = 1 (an unused slot) that kept its Key: not shown as a freed block at VA 0."""
    where = located(VERIFIER)
    index, va = _big_entry(where, live=False)
    target = corrupt(tmp_path, where.path, [(_big_field(where, index, "Va"), le(1))])
    report = library(target)
    assert not any(row["va"] == 0 for row in report["bigpool"])
    assert any(f"entry {index} (Va 0x0," in w and "no page-aligned kernel address" in w
               for w in report["warnings"]), report["warnings"]
    expected = [row for row in truth(VERIFIER)["bigpool"] if row["va"] != va]
    assert [{k: row[k] for k in expected[0]} for row in report["bigpool"]] == expected
    cli_report(target)


def test_verifier_slot_size_past_the_address_space(tmp_path):
    where = located(VERIFIER)
    view = where.view
    state = read_verifier(view, read_modules(view).modules)
    driver = next(d for d in state.drivers if len(d.allocations))
    slot = int(driver.allocations["slot"][0])
    offset, _ = member(view, "_VI_POOL_ENTRY_INUSE", "NumberOfBytes")
    target = corrupt(tmp_path, where.path, [(where.offset(slot + offset), le(2**63))])
    report = library(target)
    assert any(f"{driver.name}: 1 tracker slots hold" in w and f"slot {slot:#x}" in w
               and "NumberOfBytes 0x8000000000000000" in w for w in report["warnings"]), report["warnings"]
    rows = _driver(truth(VERIFIER)["verifier"], driver.name)["allocations"]
    got = _driver(report["verifier"], driver.name)["allocations"]
    assert [{k: a[k] for k in rows[0]} for a in got] == \
        [row for row in rows if row["address"] != int(driver.allocations["address"][0])]
    cli_report(target)


def test_empty_loaded_module_list_is_a_warning(tmp_path):
    where = located(VERIFIER)
    head = where.view.symbol("PsLoadedModuleList")
    target = corrupt(tmp_path, where.path, [(where.offset(head), le(head) + le(head))])  # Flink = Blink = head
    report = library(target)
    assert report["modules"] == []
    assert any(f"PsLoadedModuleList at {head:#x} is empty" in w for w in report["warnings"]), report["warnings"]
    assert report["bigpool"] == json.loads(original(VERIFIER))["bigpool"]  # the rest stands
    cli_report(target)


def test_shifted_trace_log_pointer_is_named(tmp_path):
    """VfPoolTraces moved by +8: every record shifted. The log is said not to look like one,
    and no shifted record is reported."""
    where = located(VERIFIER)
    symbol = where.view.symbol("VfPoolTraces")
    target = corrupt(tmp_path, where.path, [(where.offset(symbol), le(where.pointer("VfPoolTraces") + 8))])
    report = library(target)
    assert any("the log does not look like one" in w for w in report["warnings"]), report["warnings"]
    records = {(r["address"], r["size"], r["thread"]) for r in truth(VERIFIER)["verifier"]["trace_log"]}
    assert all((r["address"], r["size"], r["thread"]) in records for r in report["verifier"]["trace_log"])
    assert report["verifier"]["drivers"] == json.loads(original(VERIFIER))["verifier"]["drivers"]
    cli_report(target)


@pytest.mark.parametrize("name, victim", [(VERIFIER, -1), (VERIFIER, 0), ("win7-x64-poolhittag", -1)],
                         ids=["verifier-last-module", "verifier-kernel", "poolhittag-last-module"])
def test_absurd_dll_base_loses_only_its_module(tmp_path, name, victim):
    """DllBase 2^64-1 in one loader entry: that module is skipped with a warning; every other
    caller still symbolizes, the PoolHitTag break keeps its caller chain, and (the kernel's
    entry lost) the trace log is not dropped for frames outside the modules left."""
    where = located(name)
    view = where.view
    modules = read_modules(view).modules
    victim = modules[victim]
    offset, _ = member(view, "_KLDR_DATA_TABLE_ENTRY" if view.has_type("_KLDR_DATA_TABLE_ENTRY")
                       else "_LDR_DATA_TABLE_ENTRY", "DllBase")
    target = corrupt(tmp_path, where.path, [(where.offset(victim.entry + offset), le(2**64 - 1))])
    report = library(target)
    assert any("PsLoadedModuleList: 1 loader entries describe an image outside kernel space" in w
               and "DllBase 0xffffffffffffffff" in w for w in report["warnings"]), report["warnings"]
    assert not any("symbolization" in w or "PoolHitTag: failed" in w for w in report["warnings"])
    full = json.loads(original(name))
    assert report["modules"] == [m for m in full["modules"] if m["base"] != victim.base]
    if name == VERIFIER:
        assert [(r["address"], r["size"], r["stack"]) for r in report["verifier"]["trace_log"]] == \
            [(r["address"], r["size"], r["stack"]) for r in full["verifier"]["trace_log"]]
        kept = [d for d in full["verifier"]["drivers"] if d["name"] != victim.name]
        got = [d for d in report["verifier"]["drivers"] if d["name"] != victim.name]
        assert [a["caller_symbol"] for d in got for a in d["allocations"]] == \
            [a["caller_symbol"] for d in kept for a in d["allocations"]]
    else:
        assert report["pool_hit_tag"]["break"]["symbols"][:3] == full["pool_hit_tag"]["break"]["symbols"][:3]
        assert report["pool_hit_tag"]["break"]["symbol"] == full["pool_hit_tag"]["break"]["symbol"]
    cli_report(target)


def test_symbolizer_and_code_map_skip_a_module_past_64_bits():
    """Modules handed in from elsewhere (not read_modules): one whose range does not fit in
    64 bits holds no address, and the others are still found."""
    from dumpscan.analysis.symbolize import Symbolizer
    from dumpscan.kernel.modules import Module
    from dumpscan.kernel.poolhittag import CodeMap

    good = Module("good.sys", 0xFFFFF80010000000, 0x7000)
    symbolizer = Symbolizer([Module("bad.sys", 2**64 - 1, 0x1000), good], {1: {"Entry": 0x10}})
    assert symbolizer.symbol(good.base + 0x21) == "good!Entry+0x11"
    assert symbolizer.module_of(2**64 - 1) is None
    code = CodeMap([(2**64 - 1, 2**64 + 0xFFF), (good.base, good.end)])
    assert code.contains(good.base + 1) and not code.contains(2**64 - 1)


# -- inputs that are not dump files ------------------------------------------------------------------
def test_fifo_is_refused_and_skipped(tmp_path):
    """A FIFO with no writer: one line, at once (an open would block forever); a directory
    walk skips it. cli() runs under a subprocess timeout, so the old hang fails the test."""
    fifo = tmp_path / "pipe.dmp"
    os.mkfifo(fifo)
    line = cli_error(fifo, "is a FIFO (named pipe), not a regular file")
    assert line == f"dumpscan: {fifo}: is a FIFO (named pipe), not a regular file: not read"
    good = tmp_path / "good.dmp"
    shutil.copyfile(DUMPS / "win7-x64-poolhittag.dmp", good)
    proc = cli(tmp_path)  # the directory: the FIFO is not among its dumps
    assert proc.returncode == 0, proc.stderr
    assert [d["header"]["dump"] for d in [json.loads(proc.stdout)]] == [str(good)]
    batch = subprocess.run([str(DUMPSCAN), "batch", "--workers", "0", "-s", str(SYMBOLS), str(fifo), str(good)],
                           capture_output=True, text=True, timeout=CLI_SECONDS)
    assert batch.returncode == 3, batch.stderr  # one error row beside a good one: a partial run
    assert f"dumpscan: {fifo}: is a FIFO (named pipe)" in batch.stderr


def test_symlink_loop_is_named(tmp_path):
    loop = tmp_path / "loop.dmp"
    loop.symlink_to(tmp_path / "other.dmp")
    (tmp_path / "other.dmp").symlink_to(loop)
    cli_error(loop, "symlink loop")
    cli_error(tmp_path / "absent.dmp", "no such file")


def test_newline_in_a_file_name_stays_on_one_line(tmp_path):
    """An unprintable file name is quoted with escapes: the error is still one line."""
    odd = tmp_path / "two\nlines.dmp"
    odd.write_bytes(b"MDMP" + bytes(0x100))
    proc = cli(odd)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"dumpscan: {str(odd)!r}: not a Windows kernel crash dump: "
                                        + proc.stderr.split(": not a Windows kernel crash dump: ", 1)[1].strip()]


# -- per-dump time limit -----------------------------------------------------------------------------
def test_run_isolated_kills_at_the_deadline():
    """The worker of a call that outlives the limit is killed; the other calls finish."""
    import time

    from dumpscan.analysis.batch import run_isolated

    start = time.monotonic()
    outcomes = dict(run_isolated(time.sleep, [(0,), (60,), (0,), ("x",)], 2, 2.0))
    assert time.monotonic() - start < 30
    assert outcomes[0].ok and outcomes[2].ok
    assert outcomes[1].error == "stopped after the time limit of 2 s"
    assert outcomes[3].error.startswith("TypeError: ")


def test_timeout_makes_a_slow_dump_one_line_and_the_others_go_on(tmp_path):
    """--timeout 0.001: no analysis of a real dump ends that soon, so each dump becomes one
    line (the first does not stop the second) and a missing file is still named as such;
    a generous limit gives the same report as none."""
    a, b = DUMPS / "win7-x64-poolhittag.dmp", DUMPS / "win81-x86-verifier.dmp"
    missing = tmp_path / "missing.dmp"
    for command in (["analyze", "--format", "json"], ["batch", "--workers", "2"]):
        proc = subprocess.run([str(DUMPSCAN), *command, "--timeout", "0.001", "-s", str(SYMBOLS),
                               str(a), str(missing), str(b)], capture_output=True, text=True,
                              timeout=CLI_SECONDS)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.splitlines() == [
            f"dumpscan: {a}: stopped after the time limit of 0.001 s",
            f"dumpscan: {missing}: no such file",
            f"dumpscan: {b}: stopped after the time limit of 0.001 s"], proc.stderr
    limited = subprocess.run([str(DUMPSCAN), "analyze", "--format", "json", "--timeout", "300", "-s",
                              str(SYMBOLS), str(a)], capture_output=True, text=True, timeout=CLI_SECONDS)
    assert limited.returncode == 0, limited.stderr
    assert json.loads(limited.stdout) == json.loads(cli(a).stdout)


def test_tag_tables_section_bound_skips_further_per_processor_tables(monkeypatch):
    """Once the section's entry bound is spent, further per-processor tables are skipped
    with one warning; the global table and the tables read before stay."""
    from test_kernel_readers import LEAK, Kernel

    from dumpscan.kernel import tagtables

    kernel = Kernel()
    tables = [kernel.tag_table({3: (LEAK if cpu == 0 else 0, 1, 0, 0x10, 0, 0, 0)}, 9) for cpu in range(4)]
    kernel.tag_tables(tables, 9, processors=4)
    monkeypatch.setattr(tagtables, "MAX_SECTION_ENTRIES", 2 * 9)
    totals = tagtables.read_tag_tables(kernel.view(), 4)
    assert [t.source for t in totals.tables] == ["PoolTrackTable", "ExPoolTagTables[1]"]
    assert any("2 per-processor tables not read: the section's bound of 0x12 entries was reached" in w
               for w in totals.warnings), totals.warnings
    assert totals.row(0)["nonpaged_allocs"] == 2


def test_tag_tables_of_unknown_extent_are_not_read():
    """A size above the cap, of no 2^n + 1 shape, with no mask and no 'Ovfl' entry to name
    the real one: the hashed tables are not read (reading on would invent tags); with the
    'Ovfl' entry at index 8 the size is 9."""
    from test_kernel_readers import LEAK, Kernel

    from dumpscan.kernel.tagtables import OVERFLOW_KEY, read_tag_tables

    kernel = Kernel()
    table = kernel.tag_table({3: (LEAK, 1, 0, 0x10, 0, 0, 0)}, 9)
    kernel.tag_tables([table], 1 << 32, processors=1)
    totals = read_tag_tables(kernel.view(), 1)
    assert len(totals.keys) == 0 and totals.tables == ()
    assert any("no 'Ovfl' overflow entry marks the table's end" in w for w in totals.warnings), totals.warnings
    kernel = Kernel()
    table = kernel.tag_table({3: (LEAK, 1, 0, 0x10, 0, 0, 0), 8: (OVERFLOW_KEY, 0, 0, 0, 0, 0, 0)}, 9)
    kernel.tag_tables([table], 1 << 32, processors=1)
    totals = read_tag_tables(kernel.view(), 1)
    assert totals.keys.tolist() == sorted([LEAK, OVERFLOW_KEY])
    assert any("'Ovfl' at index 0x8 gives 0x9 entries" in w for w in totals.warnings), totals.warnings
