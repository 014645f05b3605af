"""The Volatility3 plugins in plugins/windows/ through the real ``vol`` command (offline,
the session's cache, ``-s testdata/symbols -p plugins``), against the factory's truth:
verifier allocations, !poolused counters, the !verifier 80 history and the PoolHitTag
break of the articles in ../shared/seeds; every plugin under ``-r csv``; and the plugin
names, which Volatility resolves by substring over every installed plugin.
"""
from __future__ import annotations

import copy
import csv
import io
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import DUMPS, PLUGINS, VOL, bundled, load_truth, run_vol

X86 = DUMPS / "win81-x86-verifier.dmp"
WIN7 = DUMPS / "win7-x64-poolhittag.dmp"
VERIFIER_DUMPS = bundled(lambda name, truth: bool(truth.get("verifier")))
OURS = {"poolleak": "windows.poolleak.PoolLeak", "pooltags": "windows.pooltags.PoolTags",
        "verifier": "windows.verifier.Verifier", "poolhistory": "windows.poolhistory.PoolHistory",
        "pooltrack": "windows.pooltrack.PoolTrack", "hittag": "windows.hittag.HitTag",
        "callsites": "windows.callsites.CallSites"}


def vol_json(dump: Path, plugin: str, *args: str, cache: Path) -> list[dict]:
    result = run_vol(dump, plugin, *args, plugins=True, cache=cache)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return json.loads(result.stdout)


def vol_csv(dump: Path, plugin: str, *args: str, cache: Path) -> list[dict]:
    result = run_vol(dump, plugin, *args, plugins=True, cache=cache, renderer="csv")
    assert result.returncode == 0, result.stderr[-3000:]
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_plugin_names_resolve_to_exactly_one_plugin():
    listing = subprocess.run([str(VOL), "-p", str(PLUGINS), "-h"], capture_output=True, text=True,
                             timeout=120).stdout
    names = set(re.findall(r"^\s{4}([a-z0-9_]+(?:\.[A-Za-z0-9_]+)+)\s", listing, re.M))
    assert "windows.bigpools.BigPools" in names and len(names) > 100
    for short, full in OURS.items():
        assert full in names
        assert "bigpools" not in full
        assert [n for n in names if short in n] == [full]  # `vol ... poolleak` picks ours
        assert [n for n in names if full in n] == [full]   # and no other plugin contains ours


@pytest.mark.parametrize("name", VERIFIER_DUMPS)
def test_verifier_rows_equal_the_truth_allocations(name, vol_cache):
    rows = vol_json(DUMPS / f"{name}.dmp", "verifier", cache=vol_cache)
    truth = load_truth(name)["verifier"]
    assert [r["Driver"] for r in rows] == [d["name"] for d in truth["drivers"]]
    for row, driver in zip(rows, truth["drivers"]):
        assert row["Loaded"] is driver["loaded"]
        got = sorted((c["Address"], c["Length"], c["Tag"], c["Caller"], c["CallerSymbol"])
                     for c in row["__children"])
        want = sorted((a["address"], a["length"], a["tag"], a["caller"], a["caller_symbol"])
                      for a in driver["allocations"])
        assert got == want
        assert {c["Driver"] for c in row["__children"]} <= {driver["name"]}
        assert row["Length"] == sum(a["length"] for a in driver["allocations"])


@pytest.mark.parametrize("name", ["win10-x64-verifier-full", "win7-x64-poolhittag", "win81-x86-verifier"])
def test_pooltags_rows_equal_the_truth_tags(name, vol_cache):
    rows = vol_json(DUMPS / f"{name}.dmp", "pooltags", cache=vol_cache)
    got = {r["Key"]: (r["NonPagedAllocs"], r["NonPagedFrees"], r["NonPagedBytes"],
                      r["PagedAllocs"], r["PagedFrees"], r["PagedBytes"]) for r in rows}
    want = {t["key"]: (t["nonpaged_allocs"], t["nonpaged_frees"], t["nonpaged_bytes"],
                       t["paged_allocs"], t["paged_frees"], t["paged_bytes"]) for t in load_truth(name)["tags"]}
    assert len(rows) == len(want) and got == want
    assert [r["Key"] for r in rows][:1] == [max(want, key=lambda k: want[k][2] + want[k][5])]  # total bytes first


def test_pooltags_filters(vol_cache):
    rows = vol_json(X86, "pooltags", "--tag", "Lea*", "Irp", "--sort", "tag", cache=vol_cache)
    assert [r["Tag"] for r in rows] == ["Irp ", "Leak"]
    leak = rows[1]
    assert (leak["PagedAllocs"], leak["PagedFrees"], leak["PagedOutstanding"], leak["PagedBytes"]) == \
        (11, 1, 10, 10280960)
    assert leak["Drivers"] == "myfault.sys"
    rows = vol_json(X86, "pooltags", "--driver", "myfault", "--min-bytes", "1000000", cache=vol_cache)
    assert [r["Tag"] for r in rows] == ["Leak"]


def test_verifier_reproduces_the_driver_verifier_article(vol_cache):
    """!verifier 3 in ../shared/seeds: ten 1000 KB 'Leak' blocks of myfault.sys, allocated
    at myfault!PoolLeak+0x21, and the summary statistics."""
    result = run_vol(X86, "verifier", plugins=True, cache=vol_cache, renderer="quick")
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines() if line.startswith("* myfault.sys")]
    assert len(lines) == 10
    assert {tuple(line[3:]) for line in lines} == {("0xfb000", "Leak", "0x6b61654c", "0x98726659",
                                                    "myfault!PoolLeak+0x21")}
    assert [line[2] for line in lines][:2] == ["0x9d2fb000", "0x9d200000"]  # highest first, as !verifier 3
    assert re.search(r"^myfault\.sys\tTrue\t0x[0-9a-f]+\t0x9ce000\t", result.stdout, re.M)

    stats = {(r["Scope"], r["Counter"]): r["Value"]
             for r in vol_json(X86, "verifier", "--summary", cache=vol_cache)}
    assert stats[("MmVerifierData", "Level")] == 8 and stats[("flags", "Pool tracking")] == 1
    assert (stats[("MmVerifierData", "AllocationsAttempted")], stats[("MmVerifierData", "AllocationsSucceeded")],
            stats[("MmVerifierData", "AllocationsSucceededSpecialPool")],
            stats[("MmVerifierData", "AllocationsWithNoTag")]) == (0xB, 0xB, 0xA, 0x1)
    assert (stats[("MmVerifierData", "CurrentPagedPoolAllocations")], stats[("MmVerifierData", "PagedBytes")]) \
        == (0xA, 0x9CE000)
    assert (stats[("myfault.sys", "Loaded")], stats[("myfault.sys", "CurrentPagedPoolAllocations")],
            stats[("myfault.sys", "PagedBytes")], stats[("myfault.sys", "PeakPagedBytes")]) == (1, 0xA, 0x9CE000, 0x9CE000)
    assert stats[("VfPoolTraces", "Length")] == 0x10000


def test_poolhistory_of_one_block_newest_first(vol_cache):
    """!verifier 80 0x9ca00000: allocate, free, allocate (newest first), with the stacks."""
    rows = vol_json(X86, "poolhistory", "--address", "0x9ca00000", cache=vol_cache)
    assert [r["Kind"] for r in rows] == ["allocate", "free", "allocate"]
    assert all(r["Address"] == 0x9CA00000 for r in rows)
    assert [r["Index"] for r in rows] == sorted((r["Index"] for r in rows), reverse=True)
    assert [r["Size"] for r in rows] == [0xFA000, 0xFB000, 0xFA000]
    symbols = [[c["Symbol"] for c in r["__children"]] for r in rows]
    assert all(c["Kind"] == "frame" and c["Index"] == r["Index"] for r in rows for c in r["__children"])
    newest, freed, oldest = symbols
    assert newest[1:3] == ["nt!VerifierExAllocatePoolWithTag+0x24", "myfault!PoolLeak+0x21"]
    assert newest[-1] == "nt!KiSystemServicePostCall"
    assert freed[:3] == ["nt!ExFreePoolWithTag+0x7b1", "nt!VerifierExFreePoolWithTag+0x3e",
                         "myfault!FreePoolLeak+0x33"]
    assert oldest == newest
    truth = [r for r in load_truth("win81-x86-verifier")["verifier"]["trace_log"] if r["address"] == 0x9CA00000]
    assert [[c["Address"] for c in r["__children"]] for r in rows] == [r["stack"] for r in reversed(truth)]


def test_hittag_reports_the_break_and_the_chain_into_myfault(vol_cache):
    """The PoolHitTag article: 'Lea2', the int 3 in the big-pool allocator, then
    ExAllocatePoolWithTag and myfault on the stack."""
    rows = vol_json(WIN7, "hittag", cache=vol_cache)
    truth = load_truth("win7-x64-poolhittag")["pool_hit_tag"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["Tag"], row["Key"], row["Address"]) == ("Lea2", 0x3261654C, truth["break"]["address"])
    assert row["Symbol"].startswith("nt!ExpAllocateBigPool")
    frames = row["__children"]
    assert [f["Address"] for f in frames] == truth["break"]["return_addresses"]
    symbols = [f["Symbol"] for f in frames]
    at = symbols.index("nt!ExAllocatePoolWithTag+0x82e")
    assert symbols[at + 1].startswith("myfault!") and symbols[at + 2].startswith("myfault!")
    assert "nt!IopXxxControlFile+0x607" in symbols


def test_poolleak_ranks_the_leak_with_its_call_site(vol_cache):
    rows = vol_json(X86, "poolleak", "--top", "3", cache=vol_cache)
    first = rows[0]
    assert (first["Rank"], first["Severity"], first["Kind"], first["Name"]) == (1, "high", "tag", "Leak")
    assert first["Bytes"] == 10280960 and first["Count"] == 10 and first["PagedBytes"] == 10280960
    assert first["CallerSymbol"] == "myfault!PoolLeak+0x21" and "few_frees" in first["Rules"]
    site = first["__children"][0]
    assert (site["Kind"], site["Caller"], site["Count"], site["Drivers"]) == ("call site", 0x98726659, 10, "myfault.sys")
    assert "myfault!PoolLeak+0x21 <- myfault!MyfaultDeviceControl+0x13f" in site["Evidence"]
    assert rows[1]["Kind"] == "driver" and rows[1]["Name"] == "myfault.sys"
    assert len(rows) == 3 and rows[2]["Severity"] == "none"
    only = vol_json(WIN7, "poolleak", "--suspects-only", cache=vol_cache)
    assert [r["Name"] for r in only] == ["Lea2"] and "pool_hit_tag" in only[0]["Rules"]
    assert "PoolHitTag is set to 'Lea2'" in only[0]["Evidence"]


@pytest.mark.parametrize("plugin, args, first", [
    ("poolleak", ["--top", "2"], {"Name": "Leak", "Severity": "high"}),
    ("pooltags", ["--top", "2"], {"Tag": "Leak", "PagedBytes": "10280960"}),
    ("verifier", [], {"Driver": "myfault.sys", "Loaded": "True"}),
    ("verifier", ["--summary"], {"Scope": "MmVerifierData", "Counter": "Level", "Value": "8"}),
    ("poolhistory", ["--top", "2"], {"Kind": "allocate", "Address": "0x9d2fb000"}),
    ("pooltrack", ["--tag", "Leak"], {"Tag": "Leak", "Table": "PoolTrackTable"}),
    ("callsites", ["--driver", "myfault"], {"Symbol": "myfault!PoolLeak+0x21", "Count": "10"}),
    ("hittag", [], {"Key": "0xffffff0f"}),
])
def test_every_plugin_renders_csv(plugin, args, first, vol_cache):
    rows = vol_csv(X86, plugin, *args, cache=vol_cache)
    assert rows and rows[0]["TreeDepth"] == "0"
    assert {k: rows[0][k] for k in first} == first


def test_pooltrack_sums_to_pooltags(vol_cache):
    columns = ("NonPagedAllocs", "NonPagedFrees", "NonPagedBytes", "PagedAllocs", "PagedFrees", "PagedBytes")
    rows = vol_json(X86, "pooltrack", "--tag", "Leak", "Irp", cache=vol_cache)
    sums: dict[int, list[int]] = {}
    for row in rows:
        total = sums.setdefault(row["Key"], [0] * 6)
        for i, column in enumerate(columns):
            total[i] += row[column]
    signed32 = lambda value: ((value % 2**32) ^ 2**31) - 2**31  # x86: SIZE_T byte counters
    # the per-table rows of windows.pooltrack sum (in the counters' 32-bit width) to the
    # rows windows.pooltags prints for the same tags
    pooltags = {r["Key"]: r for r in vol_json(X86, "pooltags", "--tag", "Leak", "Irp", cache=vol_cache)}
    assert set(pooltags) == set(sums)
    for key, got in sums.items():
        row = pooltags[key]
        assert [got[0] % 2**32, got[1] % 2**32, signed32(got[2]), got[3] % 2**32, got[4] % 2**32,
                signed32(got[5])] == [row[c] for c in columns]
    for tag in load_truth("win81-x86-verifier")["tags"]:
        if tag["key"] in sums:
            got = sums[tag["key"]]
            assert [got[0] % 2**32, got[1] % 2**32, got[3] % 2**32, got[4] % 2**32] == \
                [tag["nonpaged_allocs"], tag["nonpaged_frees"], tag["paged_allocs"], tag["paged_frees"]]
            assert (signed32(got[2]), signed32(got[5])) == (tag["nonpaged_bytes"], tag["paged_bytes"])
    assert len(sums) == 2


def _plugin_module(name: str):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(f"_dumpscan_plugin_{name}", PLUGINS / "windows" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("error", ["symbols", "open"])
def test_analysis_errors_of_dumpscan_are_one_log_line(error, monkeypatch, caplog):
    from dumpscan.analysis import engine
    from dumpscan.symbols.isf import SymbolTableError
    from dumpscan.vol.errors import KernelNotFound

    common = _plugin_module("dumpscan_common")
    exc = SymbolTableError("no symbol table for myfault.pdb\nGUID 0123/1") if error == "symbols" \
        else KernelNotFound("/x.dmp", "the kernel image could not be located")

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(engine, "analyze_plugin", fail)

    class Plugin:
        context = None
        config = {"kernel": "kernel"}

    with caplog.at_level("ERROR", logger="dumpscan.plugins"):
        assert common.analyze(Plugin()) is None
    (record,) = caplog.records
    assert record.getMessage() == "dumpscan cannot analyze this dump: " + (
        "no symbol table for myfault.pdb GUID 0123/1" if error == "symbols"
        else "the kernel image could not be located")


def test_pooltags_lists_partial_tags_marked():
    from dumpscan.views import VIEWS
    from dumpscan.vol.grid import grid_rows, query_of

    report = copy.deepcopy(load_truth("win81-x86-verifier"))  # load_truth is cached: do not alter it
    (leak,) = [t for t in report["tags"] if t["tag"] == "Leak"]
    report["tags"] = [t for t in report["tags"] if t["tag"] != "Leak"]
    report["tags_partial"] = [dict(leak, partial=True)]
    view = VIEWS["pooltags"]
    query = query_of(view, {"tag": ["Lea*", "Irp"], "sort": "tag"})
    rows = [values for _, values in grid_rows(view.table(report, query))]
    assert [(r[0], r[-1]) for r in rows] == [("Irp ", False), ("Leak", True)]
    assert rows[1][9] == leak["paged_bytes"]


def test_options_agree_between_the_command_and_volatility():
    """Every option a plugin takes is the command's option of the same name, with the same
    help and default (both are made from dumpscan.views.options)."""
    import click

    from dumpscan.cli import analyze
    from dumpscan.views import OPTIONS, VIEWS
    from dumpscan.vol.grid import requirements_of

    command = {p.name: p for p in analyze.params if isinstance(p, click.Option)}
    for view in VIEWS.values():
        for requirement in requirements_of(view, "pooltag"):
            option = OPTIONS[requirement.name.replace("-", "_")]
            assert requirement.description == option.help == command[option.name].help
            assert f"--{requirement.name}" in command[option.name].opts
            if option.kind not in ("patterns", "pairs", "flag"):
                assert requirement.default == option.default
