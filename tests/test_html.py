"""The HTML front end without a browser: the numbers a page embeds are those of
``--format json``, dump text is escaped, the page fetches nothing and stays small, and
big tables are cut with a note. (tests/test_html_browser.py opens the pages.)"""
from __future__ import annotations

import json
import re
from importlib.metadata import version

import pytest
from click.testing import CliRunner

from dumpscan.commands import main
from dumpscan.report.html.charts import size_classes
from dumpscan.report.render_html import MAX_ROWS, embed_json, table_data
from dumpscan.views import VIEWS, Query

from conftest import DUMPS, SYMBOLS
from html_pages import (EVIL_DRIVER, EVIL_TAG, SERIES, SINGLE, dumpscan, evil_report, page_data, pages,
                        table_rows)

BUDGET = 5 * 2**20  # bytes: a page of a typical dump
HISTORY_RECORDS = 1024  # the single dump's trace log


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    return pages(tmp_path_factory.mktemp("pages"))


def json_rows(*args) -> list[dict]:
    return json.loads(dumpscan(*args))


def flat(rows: list[dict], depth: int) -> list[dict]:
    """``--format json`` rows at the view's flat depth (children lifted, ``children`` dropped)."""
    for _ in range(depth):
        rows = [child for row in rows for child in row.get("children") or []]
    return [{k: v for k, v in row.items() if k != "children"} for row in rows]


@pytest.mark.parametrize("view", ["pooltags", "drivers", "callsites", "verifier", "bigpool", "verifierstats",
                                  "hittag"])
def test_report_tables_hold_the_numbers_of_format_json(built, view):
    data = page_data(built["report"].read_text())
    expected = flat(json_rows("analyze", SINGLE, "-s", SYMBOLS, "-q", "--format", "json", "--section", view),
                    VIEWS[view].flat_depth)
    assert expected, f"{view}: the bundled dump has rows to compare"
    assert table_rows(data, view) == expected


def test_report_history_holds_every_record_and_its_stack_as_the_text_output_prints_it(built):
    data = page_data(built["report"].read_text())
    expected = json_rows("analyze", SINGLE, "-s", SYMBOLS, "-q", "--format", "json", "--section", "history",
                         "--top", HISTORY_RECORDS + 1)
    assert len(expected) == HISTORY_RECORDS
    assert table_rows(data, "history") == [{k: v for k, v in r.items() if k != "frames"} for r in expected]
    table = data["tables"]["history"]
    for record, stack in zip(expected, table["stacks"]):
        lines = [table["frames"][i] for i in stack]
        # text notation: fffff805`735e25b7 nt!XdvExAllocatePoolInternal+0x17
        assert [int(line.split()[0].replace("`", ""), 16) for line in lines] == \
            [int(frame.split()[0], 16) for frame in record["frames"]]
        assert [line.split(" ", 1)[1:] for line in lines] == [frame.split(" ", 1)[1:] for frame in record["frames"]]
        assert all(re.fullmatch(r"[0-9a-f]{8}`[0-9a-f]{8}( \S+)?", line) for line in lines)


def test_report_charts_show_the_numbers_of_the_tables(built):
    data = page_data(built["report"].read_text())
    tags = {r["tag"]: r for r in table_rows(data, "pooltags")}
    bars = data["charts"]["toptags"]["data"]["values"]
    assert {b["tag"] for b in bars} <= set(tags) and len({b["tag"] for b in bars}) == 20
    for bar in bars:
        assert bar["bytes"] == tags[bar["tag"]][f"{bar['pool']}_bytes"]
    drivers = {r["driver"]: r["bytes"] for r in table_rows(data, "drivers") if r["bytes"]}
    assert {b["driver"]: b["bytes"] for b in data["charts"]["drivers"]["data"]["values"]} == drivers
    blocks = [r["bytes"] for r in table_rows(data, "bigpool")]
    classes = data["charts"]["bigpool"]["data"]["values"]
    assert sum(c["blocks"] for c in classes) == len(blocks) and sum(c["bytes"] for c in classes) == sum(blocks)


def test_diff_and_series_pages_hold_the_numbers_of_format_json(built):
    diff = json.loads(dumpscan("diff", SERIES[0], SERIES[2], "-s", SYMBOLS, "-q", "--format", "json"))
    data = page_data(built["diff"].read_text())
    rows = table_rows(data, "difftags")
    assert rows and [{k: t.get(k) for k in rows[0]} for t in diff["tags"] + diff["partial"]] == rows
    growth = {b["tag"]: b["bytes"] for b in data["charts"]["growth"]["data"]["values"]}
    assert growth == {"Leak": diff["tags"][0]["bytes_delta"]}

    series = json.loads(dumpscan("series", *SERIES, "-s", SYMBOLS, "-q", "--format", "json"))
    data = page_data(built["series"].read_text())
    rows = table_rows(data, "seriestags")
    assert rows and [{k: t.get(k) for k in rows[0]} for t in series["tags"]] == rows
    lines = data["charts"]["series"]["data"]["values"]
    assert [p["bytes"] for p in lines if p["tag"] == "Leak"] == series["tags"][0]["bytes"]


def test_archive_page_holds_the_numbers_of_the_queries(built):
    data = page_data(built["archive"].read_text())
    db = next(built["archive"].parent.glob("index.sqlite"))
    for name in ("top-tags", "top-suspect-drivers", "growth", "errors"):
        expected = json_rows("query", "--db", db, name, "--format", "json")
        assert expected, name
        assert table_rows(data, name) == expected
    builds = {r["kernel_build"]: r for r in table_rows(data, "builds")}
    assert builds["10.0.19041"]["ok"] == 4 and builds["6.1.7601"]["ok"] == 1 and builds[""]["error"] == 1
    assert set(data["charts"]) == {"toptags", "suspectdrivers", "builds", "errors"}


def test_pages_fetch_nothing_and_stay_within_the_budget(built):
    for name, path in built.items():
        html = path.read_text()
        assert len(html.encode()) <= BUDGET, (name, len(html))
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I), name
        assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", html, re.I), name
        assert "default-src 'none'" in html  # the page's own policy forbids fetching


def test_dump_text_is_escaped_in_the_page_and_in_its_data(built):
    html = built["evil"].read_text()
    assert EVIL_DRIVER not in html
    assert not re.search(EVIL_TAG + "(?!ript>)", html)  # only the page's own </script> tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the driver suspect, as text
    assert "tag &#39;&lt;/sc&#39;" in html  # the tag suspect, as text
    data = page_data(html)  # ... and the JSON element was not cut short
    assert f"{EVIL_DRIVER}.sys" in {r["driver"] for r in table_rows(data, "drivers")}
    assert EVIL_TAG in {r["tag"] for r in table_rows(data, "pooltags")}
    assert embed_json(["</script><!--&"]) == '["\\u003c/script\\u003e\\u003c!--\\u0026"]'


def test_a_big_table_is_cut_with_a_note():
    report = evil_report()
    table = VIEWS["pooltags"].table(report, Query())
    data = table_data(table, limit=5)
    assert data["total"] == len(table.rows) > 5 and data["shown"] == 5 and len(data["values"]) == 5
    assert data["more"] == "--format csv --section pooltags"
    assert MAX_ROWS >= 10_000


def test_size_classes_are_powers_of_two_with_the_empty_ones_between():
    classes = size_classes([4096, 5000, 8192, 40_000])
    assert [(c["size"], c["blocks"], c["bytes"]) for c in classes] == [
        ("4.0 KiB+", 2, 9096), ("8.0 KiB+", 1, 8192), ("16.0 KiB+", 0, 0), ("32.0 KiB+", 1, 40_000)]
    assert size_classes([]) == []


def test_html_takes_one_dump_and_the_filters_apply(tmp_path):
    result = CliRunner().invoke(main, ["analyze", str(SINGLE), str(SERIES[0]), "-s", str(SYMBOLS),
                                       "--format", "html", "-o", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "one dump" in result.output
    dumpscan("analyze", SINGLE, "-s", SYMBOLS, "-q", "--format", "html", "--tag", "Lea*", "-o", tmp_path / "f.html")
    data = page_data((tmp_path / "f.html").read_text())
    assert {r["tag"] for r in table_rows(data, "pooltags")} == {"Leak"}


def test_every_bundled_dump_makes_a_page(tmp_path):
    for dump in sorted(DUMPS.glob("*.dmp")):
        out = tmp_path / f"{dump.stem}.html"
        dumpscan("analyze", dump, "-s", SYMBOLS, "-q", "--format", "html", "-o", out)
        html = out.read_text()
        data = page_data(html)
        if "triage" in dump.name:  # a small memory dump: what it says, no pool tables
            assert data["tables"] == {} and "no pool data" in html.lower() and "0xC4" in html, dump.name
        else:
            assert data["tables"]["pooltags"]["values"], dump.name
        assert len(out.read_bytes()) <= BUDGET, dump.name


def test_a_long_trace_log_lists_its_newest_records_with_a_note(monkeypatch):
    from dumpscan.report import render_html

    monkeypatch.setattr(render_html, "MAX_ROWS", 100)
    html = render_html.report_page(evil_report())
    history = page_data(html)["tables"]["history"]
    assert history["total"] == history["shown"] == 100
    assert [r["index"] for r in table_rows(page_data(html), "history")][:2] == [416, 415]  # newest first
    assert f"The trace log holds {HISTORY_RECORDS} records: the newest 100 are listed" in html


def test_pool_use_is_shown_against_its_limit_where_the_dump_holds_one():
    from dumpscan.report.render_html import investigation_facts, report_page

    report = evil_report()
    usage = report["header"]["pool_usage"]
    usage["paged_limit"] = usage["paged_bytes"] * 4
    facts = {f.label: f for f in investigation_facts(report)}
    assert facts["Paged pool"].meter == 0.25 and facts["Nonpaged pool"].meter is None
    assert "Pool in use" not in facts and facts["Uptime"].value == "3d 00:00:00"
    html = report_page(report)
    assert 'title="25.0% of the limit"' in html


def test_suspect_call_sites_show_their_stack_as_the_text_output_prints_it(tmp_path):
    out = tmp_path / "x86.html"
    dumpscan("analyze", DUMPS / "win81-x86-verifier.dmp", "-s", SYMBOLS, "-q", "--format", "html", "-o", out)
    text = dumpscan("analyze", DUMPS / "win81-x86-verifier.dmp", "-s", SYMBOLS, "-q")  # the leak report
    stacks = re.findall(r'<pre class="stack">([^<]*)</pre>', out.read_text())
    assert stacks and stacks[0].startswith("81530238 nt!XdvExAllocatePoolInternal+0x17\n")
    assert "\n".join(" " * 12 + line for line in stacks[0].split("\n")) in text


def test_the_charting_script_is_bundled_once_and_kept_in_the_users_cache(tmp_path, monkeypatch):
    import vl_convert

    from dumpscan.report import render_html

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    render_html.vega_javascript.cache_clear()
    script = render_html.vega_javascript()
    assert "window.vegaEmbed" in script and "</script" not in script.lower()
    assert [p.name for p in (tmp_path / "dumpscan").iterdir()] == [
        f"vega-bundle-{version('vl-convert-python')}.js"]

    def no_bundling():
        raise AssertionError("bundled again")

    monkeypatch.setattr(vl_convert, "javascript_bundle", no_bundling)
    render_html.vega_javascript.cache_clear()
    assert render_html.vega_javascript() == script
    render_html.vega_javascript.cache_clear()


def test_the_poolhittag_break_and_its_stack(tmp_path):
    out = tmp_path / "win7.html"
    dumpscan("analyze", DUMPS / "win7-x64-poolhittag.dmp", "-s", SYMBOLS, "-q", "--format", "html", "-o", out)
    table = page_data(out.read_text())["tables"]["hittag"]
    assert table["text"]["tag"] == ["Lea2"] and table["text"]["address"] == ["fffff800`01632b26"]
    stack = [table["frames"][i] for i in table["stacks"][0]]
    assert stack[4] == "fffff880`01551634 myfault!PoolLeak+0x24" and len(stack) == 9


def test_a_report_without_pool_data_makes_a_page_that_says_so():
    from dumpscan.report.render_html import report_page

    html = report_page({"header": {"dump": "x.dmp"}, "warnings": ["the dump holds no pool tables"]})
    data = page_data(html)
    assert data["charts"] == {} and all(not t["values"] for name, t in data["tables"].items() if name != "hittag")
    assert html.count("nothing to chart in this dump") == 4
    assert '<section class="warnings" id="warnings">' in html and "the dump holds no pool tables" in html


def test_call_sites_without_symbols_are_charted_by_address():
    from dumpscan.report.render_html import report_page

    report = evil_report()
    for driver in report["verifier"]["drivers"]:
        for allocation in driver.get("allocations") or []:
            allocation["caller_symbol"] = None
    bars = page_data(report_page(report))["charts"]["callsites"]["data"]["values"]
    assert bars[0]["site"] == "0xfffff805`74751634" and all(b["site"].startswith("0xfffff805`") for b in bars)


def test_report_of_a_missing_or_foreign_index_is_one_line(tmp_path):
    (tmp_path / "junk.sqlite").write_text("junk")
    for db, message in (("none.sqlite", "no such index"), ("junk.sqlite", "not a dumpscan index")):
        result = CliRunner().invoke(main, ["report", "--db", str(tmp_path / db), "-o", str(tmp_path / "a.html")])
        assert result.exit_code == 2 and message in result.output and len(result.output.splitlines()) == 1
        assert not (tmp_path / "a.html").exists()
