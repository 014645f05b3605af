"""The pool walk: on every bundled dump the walk's blocks equal the factory's truth and
agree with the tag tables; corrupted segment-heap structures (patched COPIES of a bundled
dump) give a warning, a counted decode failure and the blocks of the intact structures,
never a traceback or a hang."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dumpscan.analysis.poolblocks import agreement, block_rows, headline
from dumpscan.kernel.bigpool import read_big_pool
from dumpscan.kernel.common import member
from dumpscan.kernel.poolblocks import BLOCK_DTYPE, NONPAGED, PAGED, SESSION, PoolBlocks
from dumpscan.kernel.poolwalk import read_pool_blocks
from dumpscan.views import VIEWS, Query
from conftest import REAL_ISF, SYMBOLS, VOL, bundled, run_vol
from test_bad_input import cli_report, corrupt, deadline, le, library, located

ROOT = Path(__file__).resolve().parents[1]
DUMPS = ROOT / "testdata" / "dumps"
NAMES = bundled()  # the kernel dumps: a triage dump holds no pool
HEAP = "win10-x64-verifier-full"


def truth_blocks(name: str) -> list[dict]:
    return json.loads((DUMPS / f"{name}.truth.json").read_text())["pool_blocks"]["blocks"]


@pytest.mark.parametrize("name", NAMES)
def test_walk_equals_truth_and_agrees_with_the_tag_tables(name):
    view = located(name).view
    with deadline():
        walk = read_pool_blocks(view, read_big_pool(view))
    assert block_rows(walk.blocks) == truth_blocks(name)
    assert not walk.failures and not walk.warnings
    report = library(DUMPS / f"{name}.dmp")
    rows, coverage = agreement(walk, report["tags"])
    print(name, headline({"walk": walk.walk, "agreement": rows, "coverage": coverage}))
    assert coverage["rows_differ"] == 0 and coverage["percent"] == 100.0
    assert coverage["walk_found"] == coverage["table_outstanding"] > 0


@pytest.mark.parametrize("name", ["win10-x64-verifier-full", "win11-x64-verifier-full",
                                  "win7-x64-poolhittag"])
def test_walk_with_the_real_symbol_tables(name):
    """The same walk through Microsoft's own layouts (the JPCERT ISFs in ../shared)."""
    if not REAL_ISF.is_dir():
        pytest.skip("../shared/isf (the real symbol tables) is absent")
    report = library(DUMPS / f"{name}.dmp", [REAL_ISF, SYMBOLS])
    assert report["kernel"]["symbols"].startswith(str(REAL_ISF))
    assert report["pool_blocks"]["blocks"] == truth_blocks(name)
    assert report["pool_blocks"]["coverage"]["rows_differ"] == 0


# -- bad input: the structures of one heap, found through the library ----------------------------
def heap_layout(name: str = HEAP) -> dict:
    """Addresses of a heap of pool node 0 that has both LFH and VS ranges: the heap, its
    first segment and that segment's first LFH and VS ranges."""
    view = located(name).view
    off = lambda t, p: member(view, t, p)[0]  # noqa: E731
    heaps = view.symbol("ExPoolState") + off("_EX_POOL_HEAP_MANAGER_STATE", "PoolNode") \
        + off("_EX_HEAP_POOL_NODE", "Heaps")
    for index in range(3):
        heap = view.canonical(view.read_pointer(heaps + view.pointer_size * index))
        head = heap + off("_SEGMENT_HEAP", "SegContexts") + off("_HEAP_SEG_CONTEXT", "SegmentListHead")
        segment = view.canonical(view.read_pointer(head))
        if segment == head:
            continue
        descriptors = view.read(segment, 0x2000)
        flags = {descriptors[unit * 0x20 + 0x18]: segment + unit * 0x1000 for unit in range(255, 1, -1)}
        if 0xB in flags and 0xF in flags:
            return {"heap": heap, "segment": segment, "lfh": flags[0xB], "vs": flags[0xF]}
    raise AssertionError("no heap with LFH and VS ranges")


def walk_of(path: Path) -> dict:
    report = library(path)
    assert report["pool_blocks"] is not None
    return report


def partial(report: dict, name: str = HEAP) -> list[dict]:
    """The report's blocks: all of them true blocks of the dump, some missing."""
    blocks = report["pool_blocks"]["blocks"]
    truth = {b["address"]: b for b in truth_blocks(name)}
    assert 0 < len(blocks) < len(truth)
    assert all(truth.get(b["address"]) == b for b in blocks)
    return blocks


def test_corrupted_segment_signature(tmp_path):
    layout, where = heap_layout(), located(HEAP)
    path = corrupt(tmp_path, DUMPS / f"{HEAP}.dmp",
                   [(where.offset(layout["segment"] + 0x10), le(0x4141414141414141))])
    report = walk_of(path)
    assert any("signature does not decode" in w for w in report["warnings"])
    assert report["pool_blocks"]["coverage"]["decode_failures"] == {"segment_signature": 1}
    partial(report)
    differ = [r for r in report["pool_blocks"]["agreement"] if r["cause"]]
    assert differ and all(r["cause"] == "pages absent from the dump" for r in differ)


def test_bad_encoded_lfh_and_vs_headers(tmp_path):
    layout, where = heap_layout(), located(HEAP)
    encoded = layout["lfh"] + member(where.view, "_HEAP_LFH_SUBSEGMENT", "BlockOffsets")[0]
    path = corrupt(tmp_path, DUMPS / f"{HEAP}.dmp",
                   [(where.offset(encoded), le(0x5A5A5A5A, 4)),
                    (where.offset(layout["vs"] + 0x30), le(0x0123456789ABCDEF))])
    report = walk_of(path)
    failures = report["pool_blocks"]["coverage"]["decode_failures"]
    assert failures == {"lfh_offsets": 1, "vs_header": 1}
    assert any("block offsets do not decode" in w for w in report["warnings"])
    assert any("does not decode with HeapKey" in w for w in report["warnings"])
    partial(report)


def test_cyclic_segment_list(tmp_path):
    layout, where = heap_layout(), located(HEAP)
    segment = layout["segment"]
    path = corrupt(tmp_path, DUMPS / f"{HEAP}.dmp", [(where.offset(segment), le(segment))])
    report = walk_of(path)  # under the library's deadline: no hang
    assert any("returns to segment" in w for w in report["warnings"])
    assert report["pool_blocks"]["coverage"]["decode_failures"] == {"cyclic_list": 1}
    assert report["pool_blocks"]["blocks"] == truth_blocks(HEAP)  # each segment walked once


@pytest.mark.parametrize("start", [0x40, 0])
def test_zeroed_range_descriptor_page(tmp_path, start):
    """The segment header's first page zeroed from descriptor 2 on (descriptors lost), or
    whole (the list links and signature lost too): a warning, the other heaps' blocks."""
    layout, where = heap_layout(), located(HEAP)
    page = layout["segment"]
    path = corrupt(tmp_path, DUMPS / f"{HEAP}.dmp",
                   [(where.offset(page + start), bytes(0x1000 - start))])
    report = walk_of(path)
    failures = report["pool_blocks"]["coverage"]["decode_failures"]
    if start:
        assert failures == {"descriptors": 1}
        assert any("every range descriptor is zero" in w for w in report["warnings"])
    else:
        assert set(failures) == {"segment_signature"} or "segment_link" in failures
    partial(report)


def test_corrupted_heap_through_the_cli(tmp_path):
    layout, where = heap_layout(), located(HEAP)
    path = corrupt(tmp_path, DUMPS / f"{HEAP}.dmp",
                   [(where.offset(layout["heap"] + 0x10), le(0, 4))])
    report, _ = cli_report(path)
    assert any("not 0xddeeddee" in w for w in report["warnings"])
    partial(report)


# -- front ends: the blocks view, the CLI, the windows.poolfind plugin ----------------------------
def test_blocks_view_tag_filter_and_address():
    report = library(DUMPS / f"{HEAP}.dmp")
    wanted = [b for b in truth_blocks(HEAP) if b["tag"].startswith("Cn")]
    table = VIEWS["blocks"].table(report, Query.from_values({"tag": ["Cn*"]}))
    assert [r.values["address"] for r in table.rows] == [b["address"] for b in wanted] != []
    block = wanted[len(wanted) // 2]
    table = VIEWS["blocks"].table(report, Query.from_values({"address": block["address"] + 0x20}))
    rows = [r.values for r in table.rows]
    assert [r["contains"] for r in rows] == [False, True, False]
    assert rows[1]["address"] == block["address"] and rows[1]["header"] == block["address"] - 0x10
    assert rows[1]["allocated"] is True and rows[1]["size"] == block["size"]
    missing = VIEWS["blocks"].table(report, Query.from_values({"address": 0x1000}))
    assert not missing.rows and any("no pool block" in n for n in missing.notes)


def test_cli_section_blocks():
    dumpscan = Path(sys.executable).with_name("dumpscan")
    proc = subprocess.run([str(dumpscan), "analyze", "-s", str(ROOT / "testdata" / "symbols"),
                           str(DUMPS / "win7-x64-poolhittag.dmp"), "--section", "blocks",
                           "--tag", "Lea*", "--format", "csv"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    truth = [b for b in truth_blocks("win7-x64-poolhittag") if b["tag"].startswith("Lea")]
    assert [int(line.split(",")[0], 16) for line in lines[1:]] == [b["address"] for b in truth] != []


def test_windows_poolfind_plugin(vol_cache):
    proc = run_vol(DUMPS / "win7-x64-poolhittag.dmp", "windows.poolfind", "--tag", "Lea*",
                   plugins=True, cache=vol_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    truth = [b for b in truth_blocks("win7-x64-poolhittag") if b["tag"].startswith("Lea")]
    assert [r["Address"] for r in rows] == [b["address"] for b in truth] != []
    listing = subprocess.run([str(VOL), "-p", str(ROOT / "plugins"), "-h"], capture_output=True,
                             text=True, timeout=120).stdout
    assert [line.strip() for line in listing.splitlines() if "poolfind" in line.lower()] == \
        ["windows.poolfind.PoolFind"]


def test_agreement_names_the_likely_cause():
    """Walk vs tag tables, one tag per cause: agreement, more found (cached), fewer with
    session blocks, fewer otherwise (in flight), fewer after decode failures (absent)."""
    def key(tag: str) -> int:
        return int.from_bytes(tag.encode(), "little")

    rows = [("Good", PAGED, 2), ("More", NONPAGED, 3), ("Sess", SESSION, 1), ("Gone", PAGED, 1)]
    blocks = np.zeros(sum(n for *_, n in rows), BLOCK_DTYPE)
    i = 0
    for tag, pool, n in rows:
        for _ in range(n):
            blocks[i] = (0x1000 * (i + 1), 0x40, key(tag), pool, pool != NONPAGED, True, 0)
            i += 1

    def table(tag: str, paged: int, nonpaged: int) -> dict:
        return {"key": key(tag), "paged_outstanding": paged, "paged_bytes": 0x40 * paged,
                "nonpaged_outstanding": nonpaged, "nonpaged_bytes": 0x40 * nonpaged}

    tags = [table("Good", 2, 0), table("More", 0, 2), table("Sess", 3, 0), table("Gone", 4, 0)]
    walk = PoolBlocks("segment-heap", blocks, {}, {}, ())
    causes = {(r["tag"], r["pool"]): r["cause"] for r in agreement(walk, tags)[0]}
    assert causes == {("Good", "paged"): None,
                      ("More", "nonpaged"): "lookaside / delay-free caches: blocks freed but still "
                                            "cached look allocated",
                      ("Sess", "paged"): "session pool",
                      ("Gone", "paged"): "allocations in flight at the crash"}
    _, coverage = agreement(walk, tags)
    assert (coverage["table_outstanding"], coverage["walk_found"], coverage["rows_differ"]) == (11, 6, 3)
    damaged = PoolBlocks("segment-heap", blocks, {"pages_absent": 1}, {}, ())
    rows_damaged = {r["tag"]: r["cause"] for r in agreement(damaged, tags)[0]}
    assert rows_damaged["Gone"] == rows_damaged["Sess"] == "pages absent from the dump"
    assert "3 differ" in headline({"walk": "segment-heap", "agreement": agreement(walk, tags)[0],
                                   "coverage": coverage})


def test_process_list_equals_truth_and_survives_a_loop(tmp_path):
    name = "win11-x64-verifier-full"
    report = library(DUMPS / f"{name}.dmp")
    truth = json.loads((DUMPS / f"{name}.truth.json").read_text())["processes"]
    assert report["processes"] == truth and len(truth) >= 12
    assert report["coverage"]["processes"]["pool_quota"].startswith("not read")
    where = located(name)
    links = member(where.view, "_EPROCESS", "ActiveProcessLinks")[0]
    fifth = truth[4]["address"] + links
    path = corrupt(tmp_path, DUMPS / f"{name}.dmp", [(where.offset(fifth), le(fifth))])  # Flink to itself
    looped = library(path)
    assert any("loops back" in w for w in looped["warnings"])
    assert looped["processes"][:5] == truth[:5] and looped["coverage"]["processes"]["complete"] is False
