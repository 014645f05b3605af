"""Leak analysis (dumpscan.analysis.leaks) and archive scans (dumpscan.analysis.batch),
on the bundled truth files and small hand-made report dicts."""
from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest

from dumpscan.analysis import leaks
from dumpscan.analysis.batch import BatchRow, iter_dumps, one_line_error, scan_archive
from dumpscan.analysis.leaks import Thresholds, exit_status, outstanding

DUMPS = Path(__file__).resolve().parent.parent / "testdata" / "dumps"
TRUTHS = sorted(DUMPS.glob("*.truth.json"))
MiB = 1 << 20


def truth(name: str) -> dict:
    return json.loads((DUMPS / f"{name}.truth.json").read_text())


def tag_row(tag: str, *, pa=0, pf=0, pb=0, na=0, nf=0, nb=0, **extra) -> dict:
    key = int.from_bytes(tag.encode("latin-1"), "little")
    return {"key": key, "tag": tag, "paged_allocs": pa, "paged_frees": pf, "paged_bytes": pb,
            "nonpaged_allocs": na, "nonpaged_frees": nf, "nonpaged_bytes": nb, **extra}


def small_report(**overrides) -> dict:
    report = {
        "schema": "dumpscan.report/1",
        "dump": {"dump_type": 1, "machine": "x64", "dtb": 0x1AB000,
                 "bugcheck": {"code": 0xD1, "parameters": [1, 2, 0, 3]}},
        "kernel": {"pdb": "ntkrnlmp.pdb", "guid": "0" * 32, "age": 1, "base": 0xFFFFF80000000000},
        "modules": [],
        "bigpool": [],
        "tags": [tag_row("Quie", pa=1000, pf=990, pb=10 * 64)],
        "verifier": None,
        "pool_hit_tag": None,
    }
    report.update(overrides)
    return report


# --------------------------------------------------------------------------------------
# rankings


def test_outstanding_is_allocs_minus_frees_with_32bit_wrap():
    assert outstanding(11, 1) == 10
    assert outstanding(5, (1 << 32) - 6) == 11  # Allocs (u32) wrapped, Frees not yet
    assert outstanding(1, 4) == -3  # more frees than allocations stays visible
    assert outstanding(1 << 40, (1 << 40) - 7) == 7


def test_tag_totals_ranked_by_outstanding_bytes():
    rows = leaks.tag_totals(truth("win81-x86-verifier"))
    assert rows[0]["tag"] == "Leak"
    assert rows[0]["paged_outstanding"] == 10 and rows[0]["paged_bytes"] == 0x9CE000
    assert rows[0]["allocs"] == 11 and rows[0]["frees"] == 1
    assert all(a["bytes"] >= b["bytes"] for a, b in zip(rows, rows[1:]))
    assert "Ovfl" not in {r["tag"] for r in rows}  # the empty overflow bucket
    for row in rows:
        assert row["outstanding"] == row["paged_outstanding"] + row["nonpaged_outstanding"]
        assert row["bytes"] == row["paged_bytes"] + row["nonpaged_bytes"]


def test_driver_summaries_ranked_by_bytes_with_allocation_lists():
    drivers = leaks.driver_summaries(truth("win10-x64-verifier-full"), top=5)
    assert [d["name"] for d in drivers] == ["myfault.sys", "contoso.sys", "fabrikam.sys"]
    myfault, contoso, fabrikam = drivers
    assert myfault["paged_outstanding"] == 10 and myfault["bytes"] == 10280960
    assert myfault["source"] == "counters"
    assert contoso["outstanding"] == 28 and contoso["listed"] == 28
    assert [a["length"] for a in contoso["allocations"]] == [0x3000] * 3 + [0x188] * 2  # top 5
    assert contoso["by_caller"][0]["symbol"] == "contoso+0x33e0"
    assert fabrikam["loaded"] is False and fabrikam["source"] == "allocations"
    assert fabrikam["outstanding"] == 0


def test_call_sites_one_line_per_caller():
    sites = leaks.call_sites(truth("win10-x64-verifier-full"), top=None)
    assert [(s["symbol"], s["count"]) for s in sites] == [
        ("myfault!PoolLeak+0x24", 10), ("contoso+0x33e0", 3), ("contoso+0x31c6", 25)]
    assert sites[0]["tags"] == ["Leak"] and sites[0]["driver"] == "myfault.sys"
    # contoso's blocks are the newest records of the (wrapped) trace ring; myfault's are not
    assert sites[0]["traced"] == 0 and "stack" not in sites[0]
    assert sites[1]["traced"] == 3 and sites[1]["stack"][2] == sites[1]["caller"]


def test_call_sites_carry_trace_symbols_when_the_engine_adds_them():
    report = truth("win81-x86-verifier")
    for record in report["verifier"]["trace_log"]:
        record["symbols"] = [f"sym{i}" for i in range(len(record["stack"]))]
    (site,) = leaks.call_sites(report)
    assert site["symbol"] == "myfault!PoolLeak+0x21" and site["count"] == 10
    assert site["traced"] == 10
    assert site["symbols"][0] == "sym0" and len(site["symbols"]) == len(site["stack"])


def test_bigpool_by_tag_counts_live_blocks_only():
    report = small_report(bigpool=[
        {"va": 0x1000, "key": 1, "tag": "BigA", "bytes": 8192, "pool_type": 1, "free": False},
        {"va": 0x4000, "key": 1, "tag": "BigA", "bytes": 4096, "pool_type": 1, "free": False},
        {"va": 0x8000, "key": 1, "tag": "BigA", "bytes": 1 << 30, "pool_type": 1, "free": True},
        {"va": 0x9000, "key": 2, "tag": "BigB", "bytes": 20000, "pool_type": 0, "free": False}])
    groups = leaks.bigpool_by_tag(report)
    assert [(g["tag"], g["count"], g["bytes"], g["largest"]) for g in groups] == [
        ("BigB", 1, 20000, 20000), ("BigA", 2, 12288, 8192)]


# --------------------------------------------------------------------------------------
# suspects


def test_win81_article_suspects():
    result = leaks.analyze(truth("win81-x86-verifier"))
    first, second = result["suspects"]
    assert (first["kind"], first["name"], first["severity"]) == ("tag", "Leak", "high")
    assert {"few_frees", "call_site", "bigpool_dominates"} <= set(first["rules"])
    assert first["bytes"] == 0x9CE000 and first["count"] == 10
    assert first["drivers"] == ["myfault.sys"]
    assert any("myfault!PoolLeak+0x21" in e and "100.0%" in e for e in first["evidence"])
    assert (second["kind"], second["name"], second["rules"]) == (
        "driver", "myfault.sys", ["driver_dominates"])
    assert result["exit_status"] == 1
    assert result["summary"]["verifier_outstanding"] == 10


def test_poolhittag_article_suspect_mentions_the_break():
    report = truth("win7-x64-poolhittag")
    (suspect,) = leaks.analyze(report)["suspects"]
    assert suspect["name"] == "Lea2" and "pool_hit_tag" in suspect["rules"]
    evidence = " ".join(suspect["evidence"])
    assert "PoolHitTag is set to 'Lea2'" in evidence and "0x1E" in evidence
    assert "fffff800`01632b26" in evidence


def test_series_dump_suspect_without_verifier():
    suspects = leaks.find_suspects(truth("win10-x64-series-t0"))
    assert suspects[0]["name"] == "Leak"
    assert "call_site" not in suspects[0]["rules"]  # no verifier: no call sites


def test_unloaded_verified_driver_with_outstanding_allocations():
    report = small_report(
        dump={"dump_type": 1, "machine": "x64", "dtb": 0,
              "bugcheck": {"code": 0xC4, "parameters": [0x62, 0xFFFF800000001000, 0, 3]}},
        verifier={"level": 8, "stats": {}, "trace_log": [], "drivers": [
            {"name": "gone.sys", "loaded": False,
             "counters": {"CurrentPagedPoolAllocations": 1, "CurrentNonPagedPoolAllocations": 2,
                          "PagedBytes": 0x100, "NonPagedBytes": 0x80},
             "allocations": []}]})
    (suspect,) = leaks.find_suspects(report)
    assert suspect["kind"] == "driver" and suspect["rules"] == ["unloaded_with_allocations"]
    assert suspect["severity"] == "high" and suspect["count"] == 3 and suspect["bytes"] == 0x180
    assert "0xC4/0x62" in suspect["evidence"][0]
    # tiny, but definitive: scripts must fail
    assert exit_status([suspect], Thresholds(exit_min_bytes=1 << 40)) == 1


def test_call_site_rule_needs_a_dominant_caller():
    allocations = [{"address": 0x1000 * i, "length": 0x40000, "key": 1, "tag": "Mixd",
                    "caller": 0x5000 + (i % 2), "caller_symbol": f"drv+{0x5000 + (i % 2):#x}"}
                   for i in range(1, 17)]
    report = small_report(tags=[tag_row("Mixd", na=5000, nf=4984, nb=16 * 0x40000)],
                          verifier={"level": 8, "stats": {}, "trace_log": [], "drivers": [
                              {"name": "drv.sys", "loaded": True, "counters": None,
                               "allocations": allocations}]})
    # two callers with 50% each: no call_site rule; many frees: no few_frees rule
    rules = {r for s in leaks.find_suspects(report) for r in s["rules"]}
    assert "call_site" not in rules and "few_frees" not in rules
    assert "driver_dominates" in rules
    for alloc in allocations[:14]:
        alloc["caller"], alloc["caller_symbol"] = 0x5000, "drv+0x5000"
    (tag_suspect,) = [s for s in leaks.find_suspects(report) if s["kind"] == "tag"]
    assert tag_suspect["rules"] == ["call_site"] and tag_suspect["caller_symbol"] == "drv+0x5000"


def test_quiet_report_has_no_suspects_and_exit_status_zero():
    result = leaks.analyze(small_report())
    assert result["suspects"] == [] and result["exit_status"] == 0
    assert exit_status([]) == 0


def test_thresholds_change_the_verdict():
    report = truth("win81-x86-verifier")
    strict = Thresholds(min_bytes=100 * MiB)
    assert leaks.find_suspects(report, strict) == []
    suspects = leaks.find_suspects(report)
    assert exit_status(suspects) == 1
    assert exit_status(suspects, Thresholds(exit_min_bytes=100 * MiB)) == 0
    assert exit_status(suspects, Thresholds(exit_severity="high")) == 1
    low_only = [dict(suspects[0], severity="low")]
    assert exit_status(low_only) == 0


def test_thresholds_from_mapping():
    t = Thresholds.from_mapping({"min_bytes": "2048", "max_free_ratio": 0.5, "top_n": 3})
    assert (t.min_bytes, t.max_free_ratio, t.top_n) == (2048, 0.5, 3)
    with pytest.raises(ValueError, match="unknown threshold"):
        Thresholds.from_mapping({"min_byte": 1})
    assert Thresholds().as_dict()["min_bytes"] == MiB


@pytest.mark.parametrize("values, message", [
    ({"exit_severity": "bogus"}, "exit_severity='bogus': must be one of low, medium, high"),
    ({"max_free_ratio": "nan"}, "max_free_ratio=nan: must be a finite number"),
    ({"driver_share": "inf"}, "driver_share=inf: must be a finite number"),
    ({"top_n": "0"}, "top_n=0: must be >= 1"),
    ({"top_n": -5}, "top_n=-5: must be >= 1"),
    ({"min_bytes": "0"}, "min_bytes=0: must be >= 1"),
    ({"min_outstanding": "-1"}, "min_outstanding=-1"),
    ({"call_site_share": "0"}, "call_site_share=0.0: must be in (0.0, 1.0]"),
    ({"max_free_ratio": "1.5"}, "max_free_ratio=1.5: must be in [0.0, 1.0]"),
    ({"min_bytes": "1.5"}, "min_bytes='1.5': expected an integer"),
    ({"max_free_ratio": "lots"}, "max_free_ratio='lots': expected a number"),
])
def test_thresholds_are_validated(values, message):
    with pytest.raises(ValueError) as caught:
        Thresholds.from_mapping(values)
    assert message in str(caught.value)


def test_thresholds_validate_direct_construction_too():
    with pytest.raises(ValueError, match="exit_severity"):
        Thresholds(exit_severity="urgent")
    assert Thresholds.from_mapping({"exit_severity": "High", "min_bytes": "0x1000"}).as_dict()[
        "exit_severity"] == "high"


def test_only_runs_the_named_rules():
    report = truth("win81-x86-verifier")
    (suspect,) = leaks.find_suspects(report, only={"few_frees"})
    assert suspect["rules"] == ["few_frees"]
    with pytest.raises(ValueError):
        leaks.find_suspects(report, only={"nonsense"})


def test_engine_extras_are_used_when_present():
    report = small_report(tags=[tag_row("Ownd", pa=50, pf=0, pb=50 * 0x10000,
                                        drivers=[{"name": "owner.sys"}, "other.sys"])])
    (row,) = leaks.tag_totals(report)
    assert row["drivers"] == ["owner.sys", "other.sys"]
    (suspect,) = leaks.find_suspects(report)
    assert suspect["drivers"] == ["owner.sys", "other.sys"]


def test_warnings_for_odd_counters():
    report = small_report(tags=[tag_row("Negv", pa=3, pf=5, pb=-64)], verifier={
        "level": 8, "stats": {}, "trace_log": [], "drivers": [
            {"name": "d.sys", "loaded": True, "allocations": [],
             "counters": {"CurrentPagedPoolAllocations": 2}}]})
    warnings = leaks.analyze(report)["warnings"]
    assert any("negative byte totals" in w for w in warnings)
    assert any("more frees than allocations" in w for w in warnings)
    assert any("d.sys: counters say 2" in w for w in warnings)


def test_odd_counter_warnings_are_one_line_each_however_many_tags():
    rows = [tag_row(f"T{i:03d}", pa=3, pf=5, pb=-64) for i in range(300)]
    warnings = leaks.analyze(small_report(tags=rows))["warnings"]
    negative = [w for w in warnings if "negative byte totals" in w]
    frees = [w for w in warnings if "more frees than allocations" in w]
    assert len(negative) == len(frees) == 1 and len(warnings) == 2
    assert negative[0].startswith("300 tags have negative byte totals")
    assert "'T000'" in negative[0] and "and 295 more" in negative[0] and "'T299'" not in negative[0]
    (single,) = [w for w in leaks.analyze(small_report(tags=rows[:1]))["warnings"] if "frees" in w]
    assert single == "1 tag has more frees than allocations: 'T000'"


def test_tolerates_a_bare_report():
    bare = {"schema": "dumpscan.report/1"}
    result = leaks.analyze(bare)
    assert result["suspects"] == [] and result["tags"] == []
    assert any("no pool tag counters" in w for w in result["warnings"])
    assert leaks.machine(bare) == "x64" and leaks.uptime_seconds(bare) is None
    assert leaks.kernel_build(bare) is None and leaks.bugcheck(bare) is None


def test_header_accessors():
    report = small_report(header={"uptime_seconds": 3600, "system_time": 0x01DA5E3F6A0BC000,
                                  "kernel_build": "10.0.19041.450", "dump": "a.dmp"})
    assert leaks.uptime_seconds(report) == 3600.0
    assert leaks.kernel_build(report) == "10.0.19041.450"
    assert leaks.report_label(report) == "a.dmp"
    assert 1.6e9 < leaks.crash_time(report) < 2.0e9  # a 2024 FILETIME
    iso = small_report(header={"system_time": "2024-01-30T10:00:00Z"})
    assert leaks.crash_time(iso) == pytest.approx(1706608800.0)
    assert leaks.kernel_build(small_report()).startswith("ntkrnlmp.pdb ")


@pytest.mark.parametrize("path", TRUTHS, ids=lambda p: p.name.split(".")[0])
def test_every_truth_file_analyses_to_json(path):
    report = json.loads(path.read_text())
    before = copy.deepcopy(report)
    report["leaks"] = leaks.analyze(report)
    json.dumps(report)  # JSON-serialisable
    del report["leaks"]
    assert report == before  # the input is not modified
    if before["dump"].get("kind") == "triage":  # a small memory dump holds no pool data
        assert leaks.analyze(before)["suspects"] == []
    elif "series" not in path.name and "kernel" not in path.name:
        # every bundled scenario has its leak as the top suspect: NotMyFault's tag, or the
        # driver that unloaded with allocations outstanding (bug check 0xC4/0x62)
        top = leaks.analyze(before)["suspects"][0]
        if "unload" in path.name:
            assert (top["name"], top["rules"][0]) == ("litware.sys", "unloaded_with_allocations")
        else:
            assert top["name"] in ("Leak", "Lea2")


# --------------------------------------------------------------------------------------
# batch


def fake_analyze(path: Path) -> dict:
    """A stand-in for the engine: the 'dump' is a truth file; 'bad' ones raise, 'die'
    ones kill the worker process."""
    if "bad" in path.name:
        raise ValueError(f"cannot read {path.name}: truncated\nsecond line of detail")
    if "die" in path.name:
        os._exit(7)
    return json.loads(path.read_text())


@pytest.fixture()
def archive(tmp_path: Path) -> Path:
    (tmp_path / "site1" / "deep").mkdir(parents=True)
    shutil.copy(DUMPS / "win81-x86-verifier.truth.json", tmp_path / "a.dmp")
    shutil.copy(DUMPS / "win7-x64-poolhittag.truth.json", tmp_path / "site1" / "B.DMP")
    shutil.copy(DUMPS / "win10-x64-series-t0.truth.json", tmp_path / "site1" / "deep" / "c.dmp")
    (tmp_path / "site1" / "bad.dmp").write_text("not a dump")
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def test_iter_dumps_walks_recursively(archive):
    names = [p.relative_to(archive).as_posix() for p in iter_dumps(archive)]
    assert names == ["a.dmp", "site1/B.DMP", "site1/bad.dmp", "site1/deep/c.dmp"]
    assert list(iter_dumps(archive / "a.dmp")) == [archive / "a.dmp"]


@pytest.mark.parametrize("workers", [0, 2])
def test_scan_archive_rows(archive, workers):
    rows = list(scan_archive([archive], fake_analyze, workers))
    by_name = {Path(r.dump).name: r for r in rows}
    assert [Path(r.dump).name for r in rows] == ["a.dmp", "B.DMP", "bad.dmp", "c.dmp"]
    bad = by_name["bad.dmp"]
    assert bad.status == "error" and bad.error == "ValueError: cannot read bad.dmp: truncated second line of detail"
    a = by_name["a.dmp"]
    assert a.status == "ok" and a.error is None
    assert a.kernel_build.startswith("ntkrpamp.pdb") and a.machine == "x86"
    assert a.bugcheck.startswith("0x000000D1 (9d1ff000, 2, 0,")
    assert a.top_tag == "Leak" and a.top_tag_bytes == 0x9CE000
    assert a.top_suspect.startswith("tag 'Leak' [high]") and a.exit_status == 1
    assert by_name["B.DMP"].top_tag == "Lea2" and by_name["B.DMP"].bugcheck.startswith("0x0000001E")
    # t0: the background tags' outstanding blocks are real pool blocks now (a few small
    # ones each), so the leak is both the top tag and the only suspect
    assert by_name["c.dmp"].top_tag == "Leak" and by_name["c.dmp"].top_suspect.startswith("tag 'Leak'")
    json.dumps([r.as_dict() for r in rows])


def test_scan_archive_survives_a_dying_worker(archive):
    (archive / "die.dmp").write_text("")
    rows = list(scan_archive([archive], fake_analyze, workers=2, ordered=False))
    assert sorted(Path(r.dump).name for r in rows) == ["B.DMP", "a.dmp", "bad.dmp", "c.dmp",
                                                        "die.dmp"]
    died = next(r for r in rows if r.dump.endswith("die.dmp"))
    assert died.status == "error" and "worker process died" in died.error
    assert sum(r.status == "ok" for r in rows) == 3


def test_scan_archive_uses_an_existing_leaks_section(tmp_path):
    report = truth("win81-x86-verifier")
    report["leaks"] = {"suspects": [], "tags": [{"tag": "Pre ", "bytes": 5}], "exit_status": 0}
    (tmp_path / "x.dmp").write_text(json.dumps(report))
    (row,) = scan_archive([tmp_path / "x.dmp"], fake_analyze, workers=0)
    assert row.top_tag == "Pre " and row.top_suspect is None and row.suspects == 0


def test_one_line_error_and_columns():
    assert one_line_error(OSError("a\nb")) == "OSError: a b"
    assert one_line_error(KeyError()) == "KeyError"
    from dumpscan.symbols.isf import SymbolTableError
    from dumpscan.vol.errors import NotAKernelDump

    # dumpscan's own errors speak for themselves; DumpOpenError without its path
    assert one_line_error(SymbolTableError("no table\n for x")) == "no table for x"
    assert one_line_error(NotAKernelDump("/x.dmp", "bad signature")) == "bad signature"
    import dumpscan.cli

    assert not hasattr(dumpscan.cli, "one_line")  # one formatter, not two
    assert BatchRow.columns()[:3] == ["dump", "status", "error"]


def test_suspects_of_one_severity_rank_by_bytes():
    """win10-x64-two-leaks: two 'high' tag suspects; 'Leak' holds more bytes, 'Lea2' more
    allocations and sorts first by name: only largest-bytes-first puts 'Leak' first."""
    from dumpscan.analysis.engine import analyze_path

    symbols = DUMPS.parent / "symbols"
    first, second = leaks.analyze(analyze_path(DUMPS / "win10-x64-two-leaks.dmp", [symbols]))["suspects"]
    assert [(s["kind"], s["name"], s["severity"], s["bytes"], s["count"]) for s in (first, second)] == [
        ("tag", "Leak", "high", 14 * 0xFA000, 14), ("tag", "Lea2", "high", 44 * 0x40000, 44)]
    truth = json.loads((DUMPS / "win10-x64-two-leaks.truth.json").read_text())
    live = sum(row["bytes"] for row in truth["bigpool"] if not row["free"])  # with the background's
    assert first["evidence"] == [
        "14 allocations, 0 freed: 14 outstanding (14 paged for 14336000 bytes), 13.7 MiB",
        f"14 live big-pool blocks hold 14336000 of {live} big-pool bytes ({100 * 14336000 / live:.1f}%)"]
    assert second["evidence"] == [
        "44 allocations, 0 freed: 44 outstanding (44 nonpaged for 11534336 bytes), 11.0 MiB"]
    assert first["drivers"] == second["drivers"] == ["myfault.sys"]
