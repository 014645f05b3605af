"""Report diffs and series (dumpscan.analysis.diff) on the win10-x64-series-t0/t1/t2
truth files (one machine at 1, 2 and 3 days of uptime with a growing 'Leak') and on
small hand-made dicts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dumpscan.analysis import leaks
from dumpscan.analysis.diff import diff_reports, order_reports, series

DUMPS = Path(__file__).resolve().parent.parent / "testdata" / "dumps"
DAY = 86400
FILETIME_2024 = 0x01DA_5E3F_6A0B_C000


def load_series(with_uptime: bool = True) -> list[dict]:
    reports = [json.loads((DUMPS / f"win10-x64-series-t{i}.truth.json").read_text())
               for i in range(3)]
    if with_uptime:  # what the engine's header will carry (scenario: 1, 2, 3 days)
        for i, report in enumerate(reports):
            report["header"] = {"uptime_seconds": (i + 1) * DAY, "dump": f"t{i}.dmp"}
    return reports


def test_series_leak_tops_the_growth_list():
    result = series(load_series())
    assert result["ordered_by"] == "uptime" and result["rate_basis"] == "uptime"
    assert result["elapsed_seconds"] == 2 * DAY
    top = result["tags"][0]
    assert top["tag"] == "Leak"
    assert top["outstanding"] == [4, 12, 24]
    assert top["bytes"] == [4096000, 12288000, 24576000]
    assert top["strict"] and top["growth_bytes"] == 20480000
    assert top["bytes_per_hour"] == pytest.approx(20480000 / 48)
    (suspect,) = result["suspects"]
    assert (suspect["name"], suspect["rules"], suspect["severity"]) == ("Leak", ["growth"], "high")
    assert "4 -> 12 -> 24" in suspect["evidence"][0]
    assert [p["label"] for p in result["points"]] == ["t0.dmp", "t1.dmp", "t2.dmp"]
    json.dumps(result)


def test_series_orders_by_time_not_by_argument_order():
    t0, t1, t2 = load_series()
    result = series([t2, t0, t1])
    assert [p["index"] for p in result["points"]] == [1, 2, 0]
    assert result["tags"][0]["tag"] == "Leak" and result["tags"][0]["outstanding"] == [4, 12, 24]
    # system_time wins over uptime when every report has one
    for report, minutes in ((t0, 30), (t1, 20), (t2, 10)):
        report["header"]["system_time"] = FILETIME_2024 + minutes * 60 * 10**7
    order, by = order_reports([t0, t1, t2])
    assert (order, by) == ([2, 1, 0], "system_time")


def test_series_without_time_falls_back_to_the_given_order():
    result = series(load_series(with_uptime=False))
    assert result["ordered_by"] == "given" and result["elapsed_seconds"] is None
    assert result["tags"][0]["tag"] == "Leak" and result["tags"][0]["bytes_per_hour"] is None
    assert any("order given" in w for w in result["warnings"])
    assert result["suspects"][0]["name"] == "Leak"


def test_series_needs_two_reports():
    with pytest.raises(ValueError):
        series(load_series()[:1])


def test_series_ignores_tags_that_go_up_and_down():
    def report(n_bytes: int, uptime: int) -> dict:
        return {"header": {"uptime_seconds": uptime}, "tags": [
            {"key": 1, "tag": "Wave", "paged_allocs": n_bytes, "paged_frees": 0,
             "paged_bytes": n_bytes * 4096, "nonpaged_allocs": 0, "nonpaged_frees": 0,
             "nonpaged_bytes": 0}]}

    result = series([report(1000, 10), report(3000, 20), report(2000, 30)])
    assert result["tags"] == [] and result["suspects"] == []
    rising = series([report(1000, 10), report(1000, 20), report(5000, 30)])
    assert rising["tags"][0]["strict"] is False
    assert rising["suspects"][0]["severity"] == "medium"  # flat for one step


def test_diff_t0_t1():
    t0, t1, _ = load_series()
    diff = diff_reports(t0, t1)
    assert diff["elapsed_seconds"] == DAY and diff["rate_basis"] == "uptime"
    leak = diff["tags"][0]
    assert leak["tag"] == "Leak" and leak["status"] == "changed"
    assert (leak["outstanding_before"], leak["outstanding_after"], leak["outstanding_delta"]) == (4, 12, 8)
    assert leak["bytes_delta"] == leak["paged_bytes_delta"] == 8192000
    assert leak["bytes_per_hour"] == pytest.approx(8192000 / 24)
    new = {g["tag"]: g for g in diff["bigpool"]["new"]}
    assert new["Leak"]["count"] == 8 and new["Leak"]["bytes"] == 8192000
    assert "Leak" not in {g["tag"] for g in diff["bigpool"]["vanished"]}
    assert diff["drivers"] == [] and diff["warnings"] == []
    json.dumps(diff)


def test_diff_without_uptime_has_no_rates():
    t0, t1, _ = load_series(with_uptime=False)
    diff = diff_reports(t0, t1, labels=("before", "after"))
    assert diff["elapsed_seconds"] is None and diff["tags"][0]["bytes_per_hour"] is None
    assert diff["older"]["label"] == "before" and diff["newer"]["label"] == "after"
    assert any("no rates" in w for w in diff["warnings"])


def test_diff_of_a_report_with_itself_is_empty():
    t0 = load_series()[0]
    diff = diff_reports(t0, t0)
    assert diff["tags"] == [] and diff["bigpool"]["new"] == [] and diff["bigpool"]["vanished"] == []


def test_diff_warns_about_reboots_and_other_kernels():
    t0, t1, _ = load_series()
    t0["header"]["uptime_seconds"] = 10 * DAY
    t1["kernel"] = dict(t1["kernel"], guid="F" * 32)
    warnings = diff_reports(t0, t1)["warnings"]
    assert any("rebooted" in w for w in warnings)
    assert any("different kernels" in w for w in warnings)


def _verifier_report(allocations: list[tuple[int, int]], loaded: bool, uptime: int) -> dict:
    return {
        "header": {"uptime_seconds": uptime}, "tags": [], "bigpool": [],
        "verifier": {"level": 8, "stats": {}, "trace_log": [], "drivers": [
            {"name": "drv.sys", "loaded": loaded, "counters": None,
             "allocations": [{"address": a, "length": n, "key": 1, "tag": "Drv ", "caller": 0x10,
                              "caller_symbol": "drv+0x10"} for a, n in allocations]},
        ]},
    }


def test_diff_per_driver_verifier_deltas():
    older = _verifier_report([(0x1000, 100), (0x2000, 200)], True, 3600)
    newer = _verifier_report([(0x2000, 200), (0x3000, 300), (0x4000, 400)], False, 7200)
    (driver,) = diff_reports(older, newer)["drivers"]
    assert (driver["loaded_before"], driver["loaded_after"]) == (True, False)
    assert (driver["outstanding_before"], driver["outstanding_after"]) == (2, 3)
    assert (driver["new_allocations"], driver["new_bytes"]) == (2, 700)
    assert (driver["freed_allocations"], driver["freed_bytes"]) == (1, 100)
    assert driver["bytes_delta"] == 600 and driver["bytes_per_hour"] == pytest.approx(600)


def test_leaks_analyze_with_history_adds_growth_evidence():
    t0, t1, t2 = load_series()
    result = leaks.analyze(t2, history=[t1, t0])
    top = result["suspects"][0]
    assert top["name"] == "Leak" and "growth" in top["rules"]
    assert any("bytes/hour of uptime" in e for e in top["evidence"])
    # the newest report must be the one analysed
    stale = leaks.analyze(t0, history=[t1, t2])
    assert "growth" not in stale["suspects"][0]["rules"]
    assert any("not the newest" in w for w in stale["warnings"])


def _move_to_partial(report: dict, tag: str) -> dict:
    (row,) = [r for r in report["tags"] if r["tag"] == tag]
    report["tags"] = [r for r in report["tags"] if r["tag"] != tag]
    report["tags_partial"] = [dict(row, partial=True)]
    return row


def test_a_tag_partial_in_one_report_is_partial_not_vanished():
    from dumpscan.report.render_csv import diff_csv
    from dumpscan.report.render_text import render_diff

    t0, _, t2 = load_series()
    _move_to_partial(t2, "Leak")
    result = diff_reports(t0, t2)
    assert "Leak" not in [t["tag"] for t in result["tags"]]  # no "vanished", no -4096000
    (entry,) = result["partial"]
    assert (entry["tag"], entry["status"], entry["partial_in"]) == ("Leak", "partial", ["newer"])
    assert (entry["outstanding_before"], entry["outstanding_after"]) == (4, None)
    assert any("1 tag has partial totals" in w and "'Leak'" in w for w in result["warnings"])
    text = render_diff(result)
    assert "Tags with partial totals (not compared)" in text and "4 -> partial" in text
    assert "Leak,partial,4,,,4096000,,," in diff_csv(result)
    json.dumps(result)


def test_a_tag_partial_in_one_report_of_a_series_is_not_judged():
    t0, t1, t2 = load_series()
    _move_to_partial(t1, "Leak")
    result = series([t0, t1, t2])
    assert "Leak" not in [t["tag"] for t in result["tags"]]
    assert result["partial"] == [{"tag": "Leak", "key": result["partial"][0]["key"], "status": "partial",
                                  "points": [1]}]
    assert any("growth not assessed" in w for w in result["warnings"])
    assert not result["suspects"]
