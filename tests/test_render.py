"""Text and CSV renderings of the views (dumpscan.report.render_text / render_csv): they
must show what engineers know from the debugger (../shared/seeds: the Driver Verifier article's
``!verifier 3`` / ``!verifier 80`` output, the PoolHitTag article)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from dumpscan.analysis import leaks
from dumpscan.analysis.batch import BatchRow
from dumpscan.analysis.diff import diff_reports, series
from dumpscan.report import render_csv
from dumpscan.report.render_text import (POOLUSED_SORT_LABELS, TextFrontend, format_address, render_batch,
                                         render_bigpool, render_diff, render_leak_report,
                                         render_pool_history, render_poolused, render_series,
                                         render_verifier)
from dumpscan.views import VIEWS, Query
from dumpscan.views.match import driver_matcher, owners_matcher, tag_matcher
from dumpscan.views.pool import tag_rows

DUMPS = Path(__file__).resolve().parent.parent / "testdata" / "dumps"
TRUTHS = sorted(DUMPS.glob("*.truth.json"))


def truth(name: str) -> dict:
    return json.loads((DUMPS / f"{name}.truth.json").read_text())


# The article's "!verifier 3" lines, verbatim (blog typography undone: ASCII dashes).
ARTICLE_ALLOCATIONS = """\
      0x9d2fb000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
      0x9d200000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
      0x9d0fb000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
      0x9d000000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
      0x9cefb000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
      0x9ce00000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
      0x9ccfb000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
      0x9cc00000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
      0x9cafb000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
      0x9ca00000  0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21
"""
ARTICLE_SUMMARY = """\
Summary of All Verifier Statistics

  RaiseIrqls           0x0
  AcquireSpinLocks     0x0
  Synch Executions     0x0
  Trims                0x0

  Pool Allocations Attempted             0xb
  Pool Allocations Succeeded             0xb
  Pool Allocations Succeeded SpecialPool 0xa
  Pool Allocations With NO TAG           0x1
  Pool Allocations Failed                0x0

  Current paged pool allocations         0xa for 009CE000 bytes
  Peak paged pool allocations            0xa for 009CE000 bytes
  Current nonpaged pool allocations      0x0 for 00000000 bytes
  Peak nonpaged pool allocations         0x0 for 00000000 bytes
"""
ARTICLE_DRIVER = """\
  MODULE: 0x80225b28 myfault.sys (Loaded)

    Pool Allocation Statistics: ( NonPagedPool / PagedPool )

      Current Pool Allocations: ( 0x00000000 / 0x0000000a )
      Current Pool Bytes:       ( 0x00000000 / 0x009ce000 )
      Peak Pool Allocations:    ( 0x00000000 / 0x0000000a )
      Peak Pool Bytes:          ( 0x00000000 / 0x009ce000 )
      Contiguous Memory Bytes:       0x00000000
      Peak Contiguous Memory Bytes:  0x00000000

    Pool Allocations:

      Address     Length      Tag   Caller
      ----------  ----------  ----  ----------
"""
# The article's "!verifier 80 0x9d2fb000" frames (symbols as the debugger printed them).
ARTICLE_FRAMES = """\
81530238 nt!XdvExAllocatePoolInternal+0x17
8152718e nt!VerifierExAllocatePoolWithTag+0x24
98726659 myfault!PoolLeak+0x21
98726ab3 myfault!MyfaultDeviceControl+0x13f
98726b26 myfault!MyfaultDispatch+0x5c
815258f3 nt!IovCallDriver+0x82
810d3a52 nt!IofCallDriver+0x62
812e765e nt!IopSynchronousServiceTail+0x16e
812ea318 nt!IopXxxControlFile+0x3e8
812e9f22 nt!NtDeviceIoControlFile+0x2a
81186377 nt!KiSystemServicePostCall+0
"""
ARTICLE_FREE_FRAMES = """\
8124fbd1 nt!ExFreePoolWithTag+0x7b1
81527241 nt!VerifierExFreePoolWithTag+0x3e
987266bb myfault!FreePoolLeak+0x33
815258f3 nt!IovCallDriver+0x82
810d3a52 nt!IofCallDriver+0x62
812e4174 nt!IopDeleteFile+0xf4
812ee7f9 nt!ObpRemoveObjectRoutine+0x43
810d549b nt!ObfDereferenceObjectWithTag+0x6b
8134d51d nt!ExSweepHandleTable+0x95
8134d2cc nt!ObKillProcess+0x28
8134cb82 nt!PspRundownSingleProcess+0xf2
8130627a nt!PspExitThread+0x456
813a7efc nt!KiSchedulerApcTerminate+0x1a
"""


def view(name: str, report: dict, **query):
    return VIEWS[name].table(report, Query.from_values(query))


def with_article_symbols(report: dict) -> dict:
    """Add the engine's ``symbols`` extra (parallel to ``stack``) from the article."""
    table = {}
    for line in (ARTICLE_FRAMES + ARTICLE_FREE_FRAMES).splitlines():
        address, symbol = line.split(" ", 1)
        table[int(address, 16)] = symbol
    for record in report["verifier"]["trace_log"]:
        record["symbols"] = [table.get(frame) for frame in record["stack"]]
    return report


# --------------------------------------------------------------------------------------
# addresses


def test_address_format():
    assert format_address(0x9D2FB000, "x86") == "9d2fb000"
    assert format_address(0x9D2FB000, "x86", prefix=True) == "0x9d2fb000"
    assert format_address(0xFFFFF800016530FC, "x64") == "fffff800`016530fc"
    assert format_address(0xFB000, 8, prefix=True) == "0x00000000`000fb000"
    assert format_address(0x98726659, 4) == "98726659"


# --------------------------------------------------------------------------------------
# (b) !verifier 3


def test_verifier3_win81_matches_the_article():
    report = truth("win81-x86-verifier")
    text = render_verifier(view('verifier', report))
    assert text.startswith("Verify Flags Level 0x00000008\n")
    assert "    [X] (0x00000000) Automatic Checks\n" in text
    assert "    [X] (0x00000008) Pool tracking\n" in text
    assert "    [ ] (0x00000001) Special pool\n" in text
    assert "    [ ] (0x01000000) VM switch verification\n" in text
    assert "    [X] Indicates flag is enabled\n" in text
    assert ARTICLE_SUMMARY in text
    assert "Driver Verification List\n------------------------\n" in text
    assert "  MODULE: myfault.sys (Loaded)\n" in text  # no entry address in the truth
    assert ARTICLE_ALLOCATIONS in text  # the ten lines, in the article's order
    assert "    Contiguous allocations are not displayed with public symbols.\n" in text
    # with the engine's extra (the driver's verifier entry address) the MODULE line and
    # the whole per-driver block read as in the article
    report["verifier"]["drivers"][0]["entry"] = 0x80225B28
    text = render_verifier(view("verifier", report))
    assert ARTICLE_DRIVER + ARTICLE_ALLOCATIONS in text


def test_verifier3_x64_drivers_and_unloaded_driver():
    text = render_verifier(view("verifier", truth("win10-x64-verifier-full")))
    assert "Verify Flags Level 0x000209bb" in text
    for flag in ("Special pool", "Force IRQL checking", "Pool tracking", "I/O verification",
                 "Deadlock detection", "DMA checking", "Security checks",
                 "Miscellaneous checks", "DDI compliance checking"):
        assert "[X] (0x" in text and f") {flag}\n" in text
    assert "  MODULE: fabrikam.sys (Hasn't loaded)\n\n  MODULE: myfault.sys" in text
    assert ("      0xffffc78f`528fb000  0x00000000`000fb000  Leak  0xfffff805`74751634"
            "  myfault!PoolLeak+0x24\n") in text
    assert "      Current Pool Allocations: ( 0x00000019 / 0x00000003 )" in text  # contoso


def test_verifier3_when_verifier_is_off():
    assert "not enabled" in render_verifier(view("verifier", truth("win7-x64-poolhittag")))


# --------------------------------------------------------------------------------------
# (c) !verifier 80


def test_verifier80_history_newest_first_with_symbols():
    report = with_article_symbols(truth("win81-x86-verifier"))
    report["verifier"]["trace_length"] = 0x10000  # VfPoolTracesLength (engine extra)
    text = render_pool_history(view("history", report, address=0x9D2FB000))
    assert text.startswith("Log of recent kernel pool Allocate and Free operations:\n\n"
                           "There are up to 0x10000 entries in the log.\n\n"
                           "Parsing 0x00010000 log entries, searching for address 0x9d2fb000.\n")
    record = report["verifier"]["trace_log"][-1]
    block = (f"{'=' * 70}\nPool block 9d2fb000, Size 000fa000, "
             f"Thread {record['thread']:08x}\n" + ARTICLE_FRAMES)
    assert block in text
    assert text.endswith("Parsed entry 00010000/00010000...\n"
                         "Finished parsing all pool tracking information.\n")
    # 0x9ca00000 was allocated, freed (myfault!FreePoolLeak+0x33), allocated again
    text = render_pool_history(view("history", report, address=0x9CA00000))
    assert text.count("=" * 70) == 3
    first_alloc = text.index("98726659 myfault!PoolLeak+0x21")
    free = text.index("987266bb myfault!FreePoolLeak+0x33")
    assert first_alloc < free < text.rindex("98726659 myfault!PoolLeak+0x21")
    assert "Pool block 9ca00000, Size 000fb000, Thread" in text  # the free record
    assert ARTICLE_FREE_FRAMES in text


def test_verifier80_without_symbols_prints_hex_only():
    text = render_pool_history(view("history", truth("win81-x86-verifier"), address=0x9D2FB000))
    assert "\n98726659\n" in text and "myfault!" not in text
    assert "The log holds 0xc readable entries." in text
    missing = render_pool_history(view("history", truth("win81-x86-verifier"), address=0x1234))
    assert "No log entries for address 0x00001234." in missing


def test_verifier80_recent_records_x64():
    text = render_pool_history(view("history", truth("win10-x64-verifier-full"), top=2))
    assert text.count("Pool block ") == 2
    assert "Pool block ffffc78f`529fc000, Size 00000000`00002400, Thread ffffb20c`3f6c1080" in text
    assert "\nfffff805`747633e0\n" in text
    assert "Driver Verifier is not enabled" in render_pool_history(view("history", truth("win7-x64-poolhittag"), address=1))


# --------------------------------------------------------------------------------------
# (a) !poolused


def poolused(report: dict, **query) -> str:
    """What ``dumpscan analyze --section pooltags`` prints."""
    return render_poolused(view("pooltags", report, **query))


def tag_column(report: dict, **query) -> list[str]:
    return [row.values["tag"] for row in view("pooltags", report, **query).rows]


def test_poolused_table_and_filters():
    report = truth("win81-x86-verifier")
    text = poolused(report, tag=["Lea*"])
    assert "Sorting by Total Pool Consumed" in text and "Showing tags Lea*" in text
    lines = text.splitlines()
    assert lines[-3].split() == ["Leak", "0", "0", "10", "10280960"]
    assert lines[-2] == " TOTAL: nonpaged 0 allocations, 0 bytes; paged 10 allocations, 10280960 bytes"
    assert poolused(report, tag=["?eak"]).splitlines()[-3].startswith(" Leak ")
    assert "(no tags match)" in poolused(report, tag=["Zzz?"])
    assert "Nonpaged" not in poolused(report)  # the !poolused spelling is NonPaged
    assert "NonPaged" in poolused(report)


def test_short_tags_are_padded_as_poolused_pads_them():
    """--tag Irp matches the tag 'Irp ' (a 3-character tag is stored space-padded)."""
    report = truth("win81-x86-verifier")
    assert tag_column(report, tag=["Irp"]) == ["Irp "]
    assert tag_column(report, tag=["Irp "]) == ["Irp "]
    assert tag_column(report, tag=["Ir?"]) == ["Irp "]
    assert "Irp " in tag_column(report, tag=["Ir*"])


@pytest.mark.parametrize("sort,field", [("nonpaged", "nonpaged_bytes"), ("paged", "paged_bytes"),
                                        ("total", "bytes"), ("allocs", "outstanding")])
def test_poolused_sorting(sort, field):
    table = view("pooltags", truth("win10-x64-verifier-full"), sort=sort, top=15)
    rows = [r.values for r in table.rows]
    assert len(rows) == 15
    assert all(a[field] >= b[field] for a, b in zip(rows, rows[1:]))
    assert f"Sorting by {POOLUSED_SORT_LABELS[sort]}" in render_poolused(table)


def test_poolused_min_bytes_top_and_tag_sort():
    report = truth("win10-x64-series-t2")
    rows = [r.values for r in view("pooltags", report, min_bytes=5_000_000).rows]
    assert rows and all(r["bytes"] >= 5_000_000 for r in rows)
    assert tag_column(report, sort="tag")[:3] == sorted(r["tag"] for r in tag_rows(report))[:3]
    text = poolused(report, top=3)
    assert "Showing top 3" in text
    body = text.split("  Pool Used:\n", 1)[1].splitlines()
    assert body[0].split()[0] == "Tag" and len(body) == 1 + 3 + 2  # header, 3 rows, TOTAL, note
    with pytest.raises(ValueError):
        poolused(report, sort="size")


def test_poolused_shows_owning_drivers_when_known():
    report = truth("win81-x86-verifier")
    for row in report["tags"]:
        if row["tag"] == "Leak":
            row["drivers"] = ["myfault.sys"]
    text = poolused(report, top=2)
    assert "Drivers" in text
    assert any(line.startswith(" Leak ") and line.endswith("myfault.sys") for line in text.splitlines())
    assert "Showing drivers myfault" in poolused(report, driver=["myfault"])


def test_poolused_prefers_the_reports_width_aware_outstanding():
    # the engine's paged_outstanding (64-bit counters read as signed: no wrap) is used as
    # is, not re-derived with the 32-bit wrap heuristic
    report = truth("win81-x86-verifier")
    engine_value = 5 - ((1 << 32) - 6)
    report["tags"] = [{"tag": "Wrap", "key": 1, "paged_allocs": 5, "paged_frees": (1 << 32) - 6,
                       "paged_bytes": 64, "nonpaged_allocs": 0, "nonpaged_frees": 0, "nonpaged_bytes": 0,
                       "paged_outstanding": engine_value, "nonpaged_outstanding": 0}]
    (row,) = tag_rows(report)
    assert row["paged_outstanding"] == engine_value
    assert leaks.tag_totals(report)[0]["paged_outstanding"] == engine_value
    del report["tags"][0]["paged_outstanding"]
    assert tag_rows(report)[0]["paged_outstanding"] == 11  # the fallback: a 32-bit wrap
    assert leaks.tag_totals(report)[0]["paged_outstanding"] == 11


def test_call_sites_and_bigpool_sections():
    report = truth("win81-x86-verifier")
    text = TextFrontend()
    text.add(view("callsites", report))
    lines = text.finish().splitlines()
    assert lines[0].split() == ["Driver", "Caller", "Symbol", "Count", "Bytes", "Tags", "Traced"]
    assert lines[2].split() == ["myfault.sys", "98726659", "myfault!PoolLeak+0x21", "10", "10280960", "Leak", "10"]
    empty = TextFrontend()
    empty.add(view("callsites", truth("win7-x64-poolhittag")))
    assert "(no rows)" in empty.finish()
    big = render_bigpool(view("bigpool", report, tag=["Leak"]))
    assert big.startswith("Big pool (PoolBigPageTable):") and " Blocks:" in big
    assert any(line.split()[:2] == ["Leak", "10"] for line in big.splitlines())


def test_bigpool_uses_the_reports_grouping_when_present():
    report = truth("win81-x86-verifier")
    live = [b for b in report["bigpool"] if not b.get("free")]
    report["bigpool_by_tag"] = [{"tag": "Leak", "key": 0x6B61654C, "paged_blocks": 7, "paged_bytes": 700,
                                 "nonpaged_blocks": 0, "nonpaged_bytes": 0, "session_blocks": 1,
                                 "session_bytes": 100, "consistent": True}]
    (group,) = leaks.bigpool_by_tag(report)
    assert (group["count"], group["bytes"], group["session_blocks"]) == (8, 800, 1)
    assert group["largest"] == max(b["bytes"] for b in live if b["tag"] == "Leak")
    assert any(line.split()[:3] == ["Leak", "8", "800"]
               for line in render_bigpool(view("bigpool", report)).splitlines())


def test_tag_matcher_wildcards():
    match = tag_matcher(["Lea*", "?rp "])
    assert match("Leak") and match("Lea2") and match("Irp ") and not match("Irp2")
    assert tag_matcher("[ab]*")("a123") and not tag_matcher("[ab]*")("c123")  # fnmatch sets
    assert not tag_matcher("leak")("Leak")  # pool tags are case-sensitive
    assert tag_matcher(None)("anything") and tag_matcher([])("anything")


def test_driver_matcher_any_case_with_or_without_extension():
    for pattern in ("myfault", "MyFault.sys", "my*", "*.SYS"):
        assert driver_matcher([pattern])("myfault.sys"), pattern
    assert not driver_matcher(["myfault.dll"])("myfault.sys")
    assert not driver_matcher(["fault"])("myfault.sys")


def test_owners_matcher_keeps_every_row_without_driver():
    assert owners_matcher(())([]) and owners_matcher(None)(["x.sys"])
    assert owners_matcher(("my*",))(["nt", "myfault.sys"])
    assert not owners_matcher(("myfault",))([]) and not owners_matcher(("myfault",))(["nt"])


# --------------------------------------------------------------------------------------
# (d) the leak report


@pytest.mark.parametrize("path", TRUTHS, ids=lambda p: p.name.split(".")[0])
def test_leak_report_renders_every_truth_file(path):
    report = json.loads(path.read_text())
    text = render_leak_report(report)
    assert text.startswith("dumpscan leak report\n")
    assert "Suspects (" in text and "Top tags by outstanding bytes" in text
    assert "Exit status" not in text  # the report does not claim the process's status
    assert "Exit thresholds: " in text


def test_leak_report_win81_contents():
    text = render_leak_report(truth("win81-x86-verifier"))
    assert "Bug check  : 0x000000D1 DRIVER_IRQL_NOT_LESS_OR_EQUAL  (BugCheck D1, {9d1ff000, 2, 0, 98726a74})" in text
    assert "Verifier   : level 0x00000008 (Pool tracking); 1 verified driver(s)" in text
    assert " 1. tag 'Leak'  [high]  10280960 bytes (9.8 MiB) in 10 allocations  owner: myfault.sys" in text
    assert "call site myfault!PoolLeak+0x21 (myfault.sys) holds 10280960 of 10280960" in text
    assert "0x98726659  myfault!PoolLeak+0x21  (myfault.sys)" in text
    assert "newest allocation's stack (trace log, 10 of 10 blocks traced):" in text
    assert "Exit thresholds: exceeded (with --fail-on-suspect, dumpscan exits with status 1)" in text


def test_leak_report_poolhittag_contents():
    report = truth("win7-x64-poolhittag")
    text = render_leak_report(report)
    assert "PoolHitTag : 'Lea2' (3261654c); broke at fffff800`01632b26" in text
    assert "KMODE_EXCEPTION_NOT_HANDLED" in text
    assert "PoolHitTag 'Lea2' break" in text and "\n fffff880`01551634\n" in text  # myfault+0x1634
    # the engine's extra: symbols parallel to return_addresses
    report["pool_hit_tag"]["break"]["symbols"] = [None] * 3 + [
        "nt!ExAllocatePoolWithTag+0x82e", "myfault+0x1634", "myfault+0x1727"] + [None] * 3
    assert "fffff880`01551634 myfault+0x1634" in render_leak_report(report)


def test_leak_report_uses_engine_extras():
    report = with_article_symbols(truth("win81-x86-verifier"))
    report["header"] = {"dump": "MEMORY.DMP", "kernel_build": "6.3.9600.17031",
                        "uptime_seconds": 3 * 86400 + 3723, "collector": "WER"}
    report["warnings"] = ["page 0x1234 missing from the dump"]
    report["coverage"] = {"tag_tables": "2 of 2",
                          "tables": [{"name": "PoolBigPageTable", "address": 0x86A00000, "entries_expected": 1024,
                                      "entries_read": 1000, "entries_absent": 24}],
                          "modules": {"listed": 8, "complete": True, "with_symbols": ["nt", "myfault.sys"]}}
    text = render_leak_report(report, thresholds=leaks.Thresholds(top_n=3))
    assert text.startswith("dumpscan leak report: MEMORY.DMP\n")
    assert "Kernel     : 6.3.9600.17031 ntkrpamp.pdb D5CA0000000000000000000000009600/1 at 81000000" in text
    assert "Uptime     : 3d 01:02:03" in text
    assert "Collector  : WER" in text
    assert " - page 0x1234 missing from the dump" in text and " tag tables: 2 of 2" in text
    # coverage in words: no Python dicts, addresses at pointer width
    assert " PoolBigPageTable: 1000 of 1024 entries read, 24 absent (at 86a00000)" in text
    assert " modules: listed 8, complete yes, with symbols nt, myfault.sys" in text
    assert "{" not in text.split("Coverage", 1)[1]
    assert "            98726659 myfault!PoolLeak+0x21" in text  # call-site stack, symbolized


def test_leak_report_with_a_precomputed_leaks_section():
    report = truth("win10-x64-series-t0")
    report["leaks"] = leaks.analyze(report, leaks.Thresholds(min_bytes=1 << 40))
    text = render_leak_report(report)
    assert "Suspects (0)" in text and "Exit thresholds: not exceeded" in text


# --------------------------------------------------------------------------------------
# (e) diff and series, batch


def _series():
    reports = [truth(f"win10-x64-series-t{i}") for i in range(3)]
    for i, report in enumerate(reports):
        report["header"] = {"uptime_seconds": (i + 1) * 86400, "dump": f"t{i}.dmp"}
    return reports


def test_render_diff_and_series():
    t0, t1, t2 = _series()
    text = render_diff(diff_reports(t0, t1))
    assert text.startswith("Pool changes: t0.dmp -> t1.dmp\n")
    grew = text[text.index("Tags that grew"):].splitlines()[3]
    assert grew.split()[:7] == ["Leak", "4", "->", "12", "+8", "4096000", "->"]
    assert "+341333 bytes/h" in grew
    assert "New big-pool blocks by tag" in text
    text = render_series(series([t0, t1, t2]))
    assert "Pool growth over 3 dumps (ordered by uptime)" in text
    row = text[text.index("Tags growing monotonically"):].splitlines()[3]
    assert row.split()[0] == "Leak" and "4 -> 12 -> 24" in row and "+426667 bytes/h" in row
    assert " 1. tag 'Leak'  [high]  24576000 bytes in 24 allocations" in text


def test_text_warnings_section():
    """Report, diff and series texts end their body with one Warnings section, a line per
    warning (the report's own and the leak analysis' together), and none without warnings."""
    t0, t1, t2 = _series()
    assert "Warnings\n" not in render_diff(diff_reports(t0, t1))
    noted = {**t1, "warnings": ["the tag table is partial"]}
    report_text = render_leak_report(noted)
    assert report_text.count("Warnings\n--------\n") == 1 and "\n - the tag table is partial\n" in report_text
    diff = {**diff_reports(t0, t1), "warnings": ["not one machine", "second"]}
    assert "\nWarnings\n--------\n - not one machine\n - second\n" in render_diff(diff)
    grown = {**series([t0, t1, t2]), "warnings": ["gap"]}
    assert render_series(grown).endswith("\nWarnings\n--------\n - gap\n")


def test_render_diff_verifier_drivers():
    older, newer = truth("win10-x64-verifier-full"), truth("win10-x64-verifier-bitmap")
    text = render_diff(diff_reports(older, newer))
    assert "Verified drivers" in text and "myfault.sys" in text


def test_render_batch():
    rows = [BatchRow(dump="a.dmp", status="ok", kernel_build="6.3.9600", bugcheck="0x000000D1 (1)",
                     top_tag="Leak", top_suspect="tag 'Leak' [high] 1 bytes (few_frees)",
                     exit_status=1),
            BatchRow(dump="b.dmp", status="error", error="ValueError: truncated")]
    text = render_batch(rows)
    assert "ValueError: truncated" in text and "tag 'Leak' [high]" in text
    assert "2 dumps: 1 analysed, 1 failed, 1 with suspects over the thresholds" in text


# --------------------------------------------------------------------------------------
# CSV


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_helpers():
    report = truth("win81-x86-verifier")

    def csv_of(name, **query):
        frontend = render_csv.CsvFrontend()
        frontend.add(view(name, report, **query))
        return _rows(frontend.finish())

    tags = csv_of("pooltags")
    assert tags[0]["tag"] == "Leak" and tags[0]["paged_bytes"] == "10280960"
    assert tags[0]["key"] == "0x6b61654c" and tags[0]["partial"] == "False"
    allocations = csv_of("verifier")
    assert len(allocations) == 10 and allocations[0]["caller_symbol"] == "myfault!PoolLeak+0x21"
    assert int(allocations[0]["address"], 16) == 0x9D2FB000  # highest first, as !verifier 3
    assert allocations[0]["loaded"] == "True"
    (site,) = csv_of("callsites")
    assert site["count"] == "10" and site["caller"] == "0x98726659"
    suspects = csv_of("suspects", suspects_only=True)
    assert suspects[0]["name"] == "Leak" and "few_frees" in suspects[0]["rules"]
    t0, t1, _ = _series()
    assert _rows(render_csv.diff_csv(diff_reports(t0, t1)))[0]["bytes_delta"] == "8192000"
    batch = _rows(render_csv.batch_csv([BatchRow(dump="a.dmp", status="error", error="E: x")]))
    assert batch == [dict.fromkeys(BatchRow.columns(), "") | {"dump": "a.dmp", "status": "error",
                                                              "error": "E: x"}]
