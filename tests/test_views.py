"""The table model (dumpscan.views): every view on every truth file through every front end,
options declared once, one formatter per column kind, and progress only on a terminal."""
from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import DUMPS, load_truth
from dumpscan.report.render_csv import CsvFrontend
from dumpscan.report.render_json import JsonFrontend
from dumpscan.report.render_text import TextFrontend
from dumpscan.views import OPTIONS, VIEWS, Column, OptionError, Query, Row, Table, View, flat_rows, tree_rows
from dumpscan.views.format import cell

TRUTHS = sorted(p.name[: -len(".truth.json")] for p in DUMPS.glob("*.truth.json"))


@pytest.mark.parametrize("name", TRUTHS)
def test_every_view_renders_in_every_front_end(name):
    from dumpscan.vol.grid import columns_of, grid_rows

    report = load_truth(name)
    for view in VIEWS.values():
        table = view.table(report, Query.from_values({"top": 5}))
        names = {c.name for c in view.columns}
        for _, row in tree_rows(table.rows):
            assert set(row.values) <= names, (view.name, set(row.values) - names)
        frontend = CsvFrontend()
        frontend.add(table)
        rows = list(csv.DictReader(io.StringIO(frontend.finish())))
        assert len(rows) == len(list(flat_rows(table)))
        assert json.loads(_finish(JsonFrontend(), table)) is not None
        assert _finish(TextFrontend(), table).strip()
        grid = list(grid_rows(table))
        assert all(len(values) == len(columns_of(view)) for _, values in grid)


def _finish(frontend, table: Table) -> str:
    frontend.add(table)
    return frontend.finish()


def test_a_new_view_needs_no_front_end_change():
    """A view defined in one place is shown by every front end (generic text: rich)."""
    columns = (Column("tag", "tag", "The tag"), Column("bytes", "bytes", "Bytes"),
               Column("where", "address", "An address"), Column("ok", "bool", "Flag"),
               Column("names", "list", "Names"))

    def build(report, query):
        rows = [Row({"tag": "Le\x01k", "bytes": 4096, "where": 0x9CA00000, "ok": True, "names": ["a", "b"]},
                    [Row({"tag": "Leak", "bytes": 1})])]
        return Table(demo, rows, {"arch": "x86"})

    demo = View("demo", "a demo", "A demo view.", columns, ("top",), build)
    table = demo.table({})
    assert _finish(CsvFrontend(), table) == "tag,bytes,where,ok,names\nLe.k,4096,0x9ca00000,True,\"a, b\"\n"
    assert json.loads(_finish(JsonFrontend(), table)) == [
        {"tag": "Le\x01k", "bytes": 4096, "where": 0x9CA00000, "ok": True, "names": ["a", "b"]}]
    text = _finish(TextFrontend(), table)
    assert "9ca00000" in text and "yes" in text and "a, b" in text and "- Leak" in text


def test_cells_are_formatted_by_kind_and_style():
    address, number, flag = Column("a", "address", ""), Column("n", "bytes", ""), Column("f", "bool", "")
    assert cell(address, 0xFFFFF80001632B26, "text") == "fffff800`01632b26"
    assert cell(address, 0x9D2FB000, "text", "x86") == "9d2fb000"
    assert cell(address, 0x9D2FB000, "csv") == "0x9d2fb000"
    assert cell(number, 10280960, "text") == cell(number, 10280960, "csv") == "10280960"
    assert (cell(flag, True, "text"), cell(flag, True, "csv"), cell(flag, True, "json")) == ("yes", "True", True)
    assert cell(number, None, "csv") == "" and cell(number, None, "json") is None


def test_options_parse_the_same_from_click_and_volatility():
    # click gives tuples, Volatility lists (and users write commas): one query
    assert Query.from_values({"tag": ("Lea*", "Irp")}) == Query.from_values({"tag": ["Lea*,Irp"]})
    assert Query.from_values({"min-bytes": 5}).min_bytes == 5  # Volatility's spelling
    assert Query.from_values({"address": "fffff800`016530fc"}).address == 0xFFFFF800016530FC
    assert Query.from_values({"threshold": ["min_bytes=1", "top_n=3"]}).thresholds().top_n == 3
    for values in ({"top": 0}, {"sort": "size"}, {"address": "xyz"}, {"threshold": ["min_bytes"]},
                   {"min_bytes": -1}):
        with pytest.raises(OptionError) as caught:
            q = Query.from_values(values)
            q.thresholds()
        assert str(caught.value).startswith("--") and "\n" not in str(caught.value)
    with pytest.raises(OptionError, match="--threshold: unknown threshold"):
        Query.from_values({"threshold": ["nope=1"]}).thresholds()


def test_every_view_option_is_declared():
    for view in VIEWS.values():
        assert set(view.options) <= set(OPTIONS), view.name
    from dumpscan.cli import SECTIONS

    assert set(VIEWS) <= set(SECTIONS)  # every view is a --section without touching the CLI


def test_history_default_is_the_newest_twenty_and_top_cuts():
    report = load_truth("win10-x64-verifier-full")
    log = report["verifier"]["trace_log"]
    rows = VIEWS["history"].table(report).rows
    assert len(rows) == 20 and rows[0].values["index"] == log[-1]["index"]
    assert len(VIEWS["history"].table(report, Query(top=3)).rows) == 3


def test_verifier_top_cuts_allocations_not_drivers():
    report = load_truth("win10-x64-verifier-full")
    table = VIEWS["verifier"].table(report, Query(top=1))
    assert len(table.rows) == len(report["verifier"]["drivers"])
    assert all(len(row.children) <= 1 for row in table.rows)
    off = VIEWS["verifier"].table(load_truth("win7-x64-poolhittag"))
    assert off.rows == [] and "not enabled" in off.notes[0]


def test_progress_only_on_a_terminal(monkeypatch):
    import sys

    from dumpscan.progress import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert list(progress([1, 2, 3], "analyzing")) == [1, 2, 3]
    assert quiet.getvalue() == ""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert list(progress([1, 2, 3], "analyzing", quiet=True)) == [1, 2, 3]
    assert terminal.getvalue() == ""
    assert list(progress([1, 2, 3], "analyzing")) == [1, 2, 3]
    assert "analyzing" in terminal.getvalue()
