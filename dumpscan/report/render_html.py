"""The HTML front end (``--format html``): one self-contained page per command, for
people who would rather look at charts than read tables.

Every table on a page is a view (``dumpscan.views``): its flat columns and rows, each
cell as :func:`dumpscan.views.format.cell` gives it (the JSON value for sorting, the text
where it differs). Rows travel as JSON inside the page and the page's script lists them
a page at a time (never a million big-pool rows in the DOM); charts are Vega-Lite specs
rendered by Vega, whose JavaScript (``vl-convert-python``'s bundle of vega, vega-lite
and vega-embed) is inlined with the page's own script and style: the page fetches
nothing. Dump text (tags, module names, symbols) reaches the page only through Jinja2's
autoescaping, as JSON with ``<``, ``>`` and ``&`` escaped, or as SVG text set by Vega.

Pages: :func:`report_page` (one dump: the investigation header, suspects linked to their
rows, charts, the tables), :func:`diff_page`, :func:`series_page` and
:func:`archive_page` (an archive index).
"""
from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ..analysis.leaks import display_tag, format_address, format_duration
from ..views import VIEWS, Query
from ..views.format import cell, number, size
from ..views.model import Table, View, flat_rows
from .html.charts import column_chart, line_chart, ranking_chart, size_classes

MAX_ROWS = 10_000
"""Rows of one table a page embeds (in the view's order); the rest are named, with the
command that lists them all. Keeps a page of a big dump to a few megabytes."""

TOP_CHART = 20  # bars in a ranking chart
TEXT_KINDS = frozenset({"address", "hex", "tag", "bool", "list"})
"""Column kinds whose text (``cell(..., "text")``) is not what the page's script prints
for the JSON value (``String(v)``; floats ``toFixed(1)``): their text is embedded."""

FRAME_VIEWS = {"callsites": None, "history": "frames", "hittag": None}
"""Views whose rows' children are stack frames: the page shows them as the text output
prints them (``address symbol`` per line, behind a row's expander), in place of the
named flat column."""


# --------------------------------------------------------------------------------------
# assets


@functools.lru_cache(maxsize=1)
def vega_javascript() -> str:
    """vega, vega-lite and vega-embed as one script (``window.vegaEmbed``), from the
    installed ``vl-convert-python``. Bundling takes seconds, so the script is kept in the
    user's cache (``$XDG_CACHE_HOME/dumpscan``, else ``~/.cache/dumpscan``), one file per
    vl-convert-python version; an unwritable cache only costs the time."""
    from importlib.metadata import version

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dumpscan" / \
        f"vega-bundle-{version('vl-convert-python')}.js"
    try:
        return cache.read_text(encoding="utf-8")
    except OSError:
        pass
    import vl_convert

    script = _inline_script(vl_convert.javascript_bundle())
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        partial.write_text(script, encoding="utf-8")
        partial.replace(cache)  # whole or absent, even with concurrent writers
    except OSError:
        pass
    return script


def _asset(name: str) -> str:
    return resources.files("dumpscan.report.html").joinpath(name).read_text(encoding="utf-8")


def _inline_script(code: str) -> str:
    """Script text safe inside ``<script>``: ``</script`` would end the element early (it
    can only occur in a string, regex or comment, where ``<\\/script`` means the same)."""
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def embed_json(document: Any) -> str:
    """JSON for a ``<script type="application/json">`` element: ``<``, ``>`` and ``&``
    as ``\\u`` escapes, so that dump text such as ``</script>`` cannot end the element."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


@functools.lru_cache(maxsize=1)
def _template():
    import jinja2

    environment = jinja2.Environment(loader=jinja2.PackageLoader("dumpscan.report", "html"),
                                     autoescape=True, trim_blocks=True, lstrip_blocks=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("page.html.j2")


# --------------------------------------------------------------------------------------
# the page model


@dataclass
class Fact:
    """One line of a page's header: a label, its value, and its share of a limit."""

    label: str
    value: str
    meter: float | None = None  # share of a limit, 0..1


@dataclass
class Section:
    """A titled part of a page: charts (ids into the page's specs), a table (an id into its
    tables), or preformatted lines behind a <details> (coverage)."""

    id: str
    title: str
    help: str = ""
    notes: list[str] = field(default_factory=list)
    charts: list[dict] = field(default_factory=list)  # {"id", "title"}
    table: str | None = None
    summary: str = ""
    lines: list[str] = field(default_factory=list)  # preformatted text, behind a <details>


@dataclass
class Page:
    """What the template shows: header facts, warnings, suspects (None: the page has none
    to show), sections in order; ``tables`` and ``charts`` travel as the page's JSON."""

    kind: str
    title: str
    subtitle: str = ""
    facts_title: str = "Investigation"
    facts: list[Fact] = field(default_factory=list)
    verdict: str | None = None
    warnings: list[str] = field(default_factory=list)
    suspects: list[dict] | None = None
    no_suspects: str = ""
    sections: list[Section] = field(default_factory=list)
    tables: dict[str, dict] = field(default_factory=dict)
    charts: dict[str, dict] = field(default_factory=dict)

    def add_table(self, table: Table, *, more: str = "") -> None:
        """A section listing ``table`` (its view's flat columns and rows); ``more``: how to
        list every row when the page holds only the first :data:`MAX_ROWS`."""
        key = table.view.name
        self.tables[key] = table_data(table, more=more)
        self.sections.append(Section(f"s-{key}", _title(table.view), table.view.help, list(table.notes), table=key))

    def add_charts(self, section_id: str, title: str, charts: Sequence[tuple[str, str, dict | None]]) -> None:
        """A section of charts: (id, title, Vega-Lite spec or None: nothing to draw)."""
        drawn = [(key, name, spec) for key, name, spec in charts if spec is not None]
        notes = [f"{name}: nothing to chart in this {'dump' if self.kind == 'report' else self.kind}."
                 for key, name, spec in charts if spec is None]
        for key, _, spec in drawn:
            self.charts[key] = spec
        self.sections.append(Section(section_id, title, notes=notes,
                                     charts=[{"id": key, "title": name} for key, name, _ in drawn]))

    def render(self) -> str:
        from .. import __version__

        return _template().render(
            page=self, version=__version__, css=_asset("report.css"),
            data_json=embed_json({"tables": self.tables, "charts": self.charts}),
            vega_js=vega_javascript(), report_js=_inline_script(_asset("report.js")))


def _title(view: View) -> str:
    return view.title if view.title.startswith("!") else view.title[:1].upper() + view.title[1:]


def table_data(table: Table, *, limit: int | None = None, more: str = "") -> dict:
    """One view's table as the page embeds it: its flat columns (name, heading, kind,
    help), the JSON value of every cell (``values``, row by row: the numbers of
    ``--format json``), the text of the columns whose kind prints otherwise (``text``,
    column by column), and how many rows there are in all (listing at most ``limit``, by
    default :data:`MAX_ROWS`). For the views whose children are stack frames: each row's
    stack (``stacks``: indices into ``frames``, the distinct frames in the text output's
    notation), in place of the flat column that lists them."""
    view, arch = table.view, table.arch
    replaced = FRAME_VIEWS.get(view.name)
    columns = [c for c in view.flat_columns() if c.name != replaced]
    rows = list(flat_rows(table))
    total, rows = len(rows), rows[:MAX_ROWS if limit is None else limit]
    data: dict[str, Any] = {
        "title": _title(view), "total": total, "shown": len(rows),
        "more": more or f"--format csv --section {view.name}",
        "columns": [{"name": c.name, "heading": c.heading, "kind": c.kind, "help": c.help} for c in columns],
        "values": [[cell(c, row.values.get(c.name), "json", arch) for c in columns] for row in rows],
        "text": {c.name: [cell(c, row.values.get(c.name), "text", arch) for row in rows]
                 for c in columns if c.kind in TEXT_KINDS},
    }
    if view.name in FRAME_VIEWS:
        frames: dict[str, int] = {}
        data["stacks"] = [[frames.setdefault(line, len(frames)) for line in frame_lines(row.children, arch)]
                          for row in rows]
        data["frames"] = list(frames)
    return data


def frame_lines(frames: Sequence, arch: str) -> list[str]:
    """Stack frames (child rows with ``caller`` or ``address``, and ``symbol``) as the text
    output prints them: ``address symbol`` per frame."""
    from .render_text import render_frames

    addresses = [f.values.get("caller", f.values.get("address")) or 0 for f in frames]
    return render_frames(addresses, [f.values.get("symbol") for f in frames], arch)


# --------------------------------------------------------------------------------------
# one dump


def _pool_facts(header: Mapping) -> list[Fact]:
    """Paged and nonpaged pool in use against their limits (a meter where a limit is known)."""
    usage = header.get("pool_usage") if isinstance(header.get("pool_usage"), dict) else {}
    facts = []
    for kind in ("paged", "nonpaged"):
        used, limit = usage.get(f"{kind}_bytes"), usage.get(f"{kind}_limit")
        text = header.get(f"{kind}_pool")
        if not isinstance(used, int) and not text:
            continue
        if not text:
            text = f"{size(used)}" + (f" of {size(limit)}" if isinstance(limit, int) else " (limit not known)")
        meter = used / limit if isinstance(used, int) and isinstance(limit, int) and limit > 0 else None
        facts.append(Fact(f"{kind.capitalize()} pool", str(text), min(meter, 1.0) if meter is not None else None))
    return facts


def investigation_facts(report: Mapping) -> list[Fact]:
    """The text report's header facts (dump, kernel build, dump type and pages, bug check,
    uptime, PoolHitTag, Driver Verifier), pool use as a fact per pool with its limit."""
    from ..analysis.leaks import report_header
    from .render_text import header_facts

    facts = []
    for label, value in header_facts(report):
        if label == "Pool in use":
            facts += _pool_facts(report_header(report))
        else:
            facts.append(Fact(label, value))
    return facts


def _row_of(data: dict, column: str, value: Any) -> int | None:
    names = [c["name"] for c in data["columns"]]
    if column not in names:
        return None
    at = names.index(column)
    for i, row in enumerate(data["values"]):
        if row[at] == value:
            return i
    return None


def _link(page: Page, table: str, name: str, label: str, column: str | None = None,
          value: Any = None) -> dict | None:
    """A link to the rows of ``table`` with a cell that is ``name`` (the search ``=name``),
    and to the row whose ``column`` is ``value``; None when the page has no such table or row."""
    data = page.tables.get(table)
    if data is None or not data["values"]:
        return None
    row = _row_of(data, column, value) if column else None
    if column and row is None:
        return None
    return {"table": table, "search": f"={name.strip()}", "label": label, "row": row}


def _site_stack(page: Page, caller: int) -> list[str]:
    """The newest allocation's stack of the call site at ``caller``, as the call-site
    table shows it (text notation); empty when the trace log holds none."""
    data = page.tables.get("callsites")
    row = _row_of(data, "caller", caller) if data else None
    return [data["frames"][i] for i in data["stacks"][row]] if row is not None else []


def _suspects(page: Page, table: Table) -> list[dict]:
    """The suspects view as the page lists it: subject, severity, size, rules, evidence,
    call sites with their stacks, and links to the rows that support it."""
    arch = table.arch
    out = []
    for row in table.rows:
        s = row.values
        tag = s["kind"] == "tag"
        name = display_tag(s["name"]) if tag else s["name"]
        summary = f"{size(s['bytes'])} in {number(s['count'])} outstanding allocations"
        if tag and s.get("drivers"):
            summary += f"; owner: {', '.join(s['drivers'])}"
        links = ([_link(page, "pooltags", name, "!poolused row", "tag", s["name"]),
                  _link(page, "bigpool", name, "big-pool blocks", "tag", s["name"]),
                  _link(page, "verifier", name, "tracked allocations", "tag", s["name"]),
                  _link(page, "callsites", name, "call sites")] if tag else
                 [_link(page, "drivers", name, "verified driver row", "driver", s["name"]),
                  _link(page, "verifier", name, "tracked allocations", "driver", s["name"]),
                  _link(page, "callsites", name, "call sites", "driver", s["name"])])
        sites = []
        for child in row.children:
            site = child.values
            sites.append({"caller": format_address(site["caller"], arch, prefix=True),
                          "symbol": site.get("caller_symbol") or "", "drivers": ", ".join(site["drivers"]),
                          "summary": f"{number(site['count'])} allocations, {size(site['bytes'])}",
                          "stack": _site_stack(page, site["caller"])})
        out.append({"rank": s["rank"], "severity": s["severity"],
                    "subject": f"tag '{name}'" if tag else f"driver {name}", "summary": summary,
                    "rules": s["rules"], "evidence": s["evidence"], "sites": sites,
                    "links": [link for link in links if link]})
    return out


def report_page(report: Mapping, query: Query | None = None) -> str:
    """One dump's page: the investigation header and warnings, the suspects with links to
    their rows, the charts, and the tables (PoolHitTag, ``!poolused``, verified drivers,
    call sites, ``!verifier 3``, ``!verifier 80``, big pool, verifier statistics), all under
    ``query``'s filters."""
    from ..analysis.leaks import analyze, report_label
    from .render_text import coverage_lines, exit_line
    from .render_triage import is_triage_report

    if is_triage_report(report):
        return triage_page(report)
    query = query or Query()
    leaks = report.get("leaks") if isinstance(report.get("leaks"), dict) else None
    if leaks is None:
        leaks = analyze(report, query.thresholds())
        report = dict(report, leaks=leaks)
    label = report_label(report, "")
    page = Page("report", f"dumpscan leak report: {label}" if label else "dumpscan leak report",
                subtitle="Kernel pool leak analysis of a Windows crash dump",
                facts=investigation_facts(report), verdict=exit_line(leaks),
                warnings=[" ".join(str(w).split()) for w in
                          [*(report.get("warnings") or []), *(leaks.get("warnings") or [])]])

    tables = {name: VIEWS[name].table(report, query) for name in
              ("pooltags", "drivers", "callsites", "verifier", "bigpool", "verifierstats", "hittag")}
    records = len(((report.get("verifier") or {}) if isinstance(report.get("verifier"), dict) else {})
                  .get("trace_log") or [])
    shown = query.top or max(1, min(records, MAX_ROWS))
    tables["history"] = VIEWS["history"].table(report, replace(query, top=shown))
    if records > shown and query.top is None:
        tables["history"].notes.append(f"The trace log holds {number(records)} records: the newest "
                                       f"{number(shown)} are listed (--section history --top N for more).")

    tags = [r.values for r in tables["pooltags"].rows if r.values.get("bytes")][:TOP_CHART]
    stacked = [{"tag": display_tag(t["tag"]), "pool": pool, "bytes": t[f"{pool}_bytes"]}
               for t in tags for pool in ("nonpaged", "paged") if t.get(f"{pool}_bytes")]
    drivers = [{"driver": r.values["driver"], "bytes": r.values["bytes"]}
               for r in tables["drivers"].rows if r.values.get("bytes")][:TOP_CHART]
    sites = [{"site": r.values.get("symbol") or format_address(r.values["caller"], tables["callsites"].arch,
                                                                prefix=True),
              "bytes": r.values["bytes"]} for r in tables["callsites"].rows[:TOP_CHART]]
    classes = size_classes(r.values.get("bytes", 0) for r in flat_rows(tables["bigpool"]))
    page.add_charts("charts", "Where the pool goes", [
        ("toptags", "Top tags by outstanding bytes (nonpaged and paged)",
         ranking_chart(stacked, "tag", "tag", color="pool")),
        ("drivers", "Outstanding bytes per verified driver", ranking_chart(drivers, "driver", "driver")),
        ("callsites", "Call sites by outstanding bytes", ranking_chart(sites, "site", "call site")),
        ("bigpool", "Big-pool blocks by size", column_chart(classes, "size", "block size", "blocks", "blocks")),
    ])

    suspects = VIEWS["suspects"].table(report, replace(query, top=None, sort=None, suspects_only=True))
    for name in ("hittag", "pooltags", "drivers", "callsites", "verifier", "history", "bigpool", "verifierstats"):
        page.add_table(tables[name])
    page.suspects = _suspects(page, suspects)
    page.no_suspects = "None: no tag, call site or driver exceeds the thresholds." + \
        "".join(f" {note}" for note in suspects.notes)
    coverage = report.get("coverage")
    if isinstance(coverage, dict) and coverage:
        page.sections.append(Section("coverage", "Coverage", "What the analysis could read of each table.",
                                     summary="Tables read", lines=[line.strip() for line in
                                                                  coverage_lines(coverage, tables["pooltags"].arch)]))
    return page.render()


def triage_page(report: Mapping) -> str:
    """A small memory (triage) dump's page: what the dump is and says (the text report's
    lines: bug check, its parameters, the loaded drivers) and that it holds no pool data."""
    from ..analysis.leaks import report_label
    from .render_triage import render_triage

    label = report_label(report, "")
    page = Page("triage", f"dumpscan: {label}" if label else "dumpscan: small memory dump",
                subtitle="A small memory (triage) dump: no pool tables",
                warnings=[" ".join(str(w).split()) for w in report.get("warnings") or []])
    page.sections.append(Section("triage", "What the dump says",
                                 "A triage dump keeps the bug check and the driver list, not the pool.",
                                 summary="Bug check, drivers, and the setting for a kernel dump",
                                 lines=render_triage(report).splitlines()))
    return page.render()


# --------------------------------------------------------------------------------------
# diff and series


def _growth_suspects(page: Page, table: Table) -> list[dict]:
    out = []
    for row in table.rows:
        s = row.values
        name = display_tag(s["name"])
        link = _link(page, "seriestags" if "seriestags" in page.tables else "difftags", name,
                     "growth row", "tag", s["name"])
        out.append({"rank": s["rank"], "severity": s["severity"], "subject": f"tag '{name}'",
                    "summary": f"{size(s['bytes'])} in {number(s['count'])} outstanding allocations"
                               + (f"; owner: {', '.join(s['drivers'])}" if s["drivers"] else ""),
                    "rules": s["rules"], "evidence": s["evidence"], "sites": [],
                    "links": [link] if link else []})
    return out


def _elapsed(result: Mapping) -> str:
    seconds = result.get("elapsed_seconds")
    if seconds is None:
        return "unknown (no rates)"
    return f"{format_duration(seconds)} ({'uptime' if result.get('rate_basis') == 'uptime' else 'wall clock'})"


def _point_facts(points: Sequence[Mapping]) -> list[Fact]:
    facts = []
    for i, point in enumerate(points):
        up = point.get("uptime_seconds")
        facts.append(Fact(f"t{i}", f"{point.get('label')}  (uptime "
                                  f"{format_duration(up) if up is not None else 'unknown'})"))
    return facts


def diff_page(result: Mapping, query: Query | None = None) -> str:
    """A :func:`dumpscan.analysis.diff.diff_reports` result: elapsed time, warnings,
    growth suspects, the largest growths as a chart, and the tables of changed tags,
    big-pool blocks and verified drivers."""
    from ..views.growth import GROWTH_VIEWS

    query = query or Query()
    older, newer = result["older"], result["newer"]
    page = Page("diff", f"Pool changes: {older['label']} -> {newer['label']}",
                subtitle="What grew between two dumps of one machine", facts_title="Dumps",
                facts=[Fact("Older", str(older["label"])), Fact("Newer", str(newer["label"])),
                       Fact("Elapsed", _elapsed(result))],
                warnings=[" ".join(str(w).split()) for w in result.get("warnings") or []])
    tables = {name: GROWTH_VIEWS[name].table(result, query) for name in
              ("difftags", "diffbigpool", "diffdrivers", "growthsuspects")}
    grew = [t for t in (r.values for r in tables["difftags"].rows)
            if (t.get("bytes_delta") or 0) > 0][:TOP_CHART]
    stacked = [{"tag": display_tag(t["tag"]), "pool": pool, "bytes": t[f"{pool}_bytes_delta"]}
               for t in grew for pool in ("nonpaged", "paged") if (t.get(f"{pool}_bytes_delta") or 0) > 0]
    drivers = [{"driver": r.values["driver"], "bytes": r.values["bytes_delta"]}
               for r in tables["diffdrivers"].rows if (r.values.get("bytes_delta") or 0) > 0][:TOP_CHART]
    page.add_charts("charts", "Largest growths", [
        ("growth", "Tags by byte growth (nonpaged and paged)", ranking_chart(stacked, "tag", "tag", color="pool")),
        ("drivergrowth", "Verified drivers by byte growth", ranking_chart(drivers, "driver", "driver")),
    ])
    for name in ("difftags", "diffbigpool", "diffdrivers"):
        page.add_table(tables[name], more="--format csv (dumpscan diff)")
    page.suspects = _growth_suspects(page, tables["growthsuspects"])
    page.no_suspects = "None: no tag's growth exceeds the thresholds."
    return page.render()


SERIES_CHART_TAGS = 10


def series_page(result: Mapping, query: Query | None = None) -> str:
    """A :func:`dumpscan.analysis.diff.series` result: the dumps in order, growth
    suspects, per-tag bytes over time for the tags that grew, and the growing tags."""
    from ..views.growth import GROWTH_VIEWS

    query = query or Query()
    points = result.get("points") or []
    page = Page("series", f"Pool growth over {len(points)} dumps",
                subtitle=f"Ordered by {result.get('ordered_by', '?')}; elapsed {_elapsed(result)}",
                facts_title="Dumps", facts=_point_facts(points),
                warnings=[" ".join(str(w).split()) for w in result.get("warnings") or []])
    tables = {name: GROWTH_VIEWS[name].table(result, query) for name in ("seriestags", "growthsuspects")}
    growers = [r.values for r in tables["seriestags"].rows[:SERIES_CHART_TAGS]]
    values = [{"dump": f"t{i}", "tag": display_tag(t["tag"]), "bytes": nbytes}
              for t in growers for i, nbytes in enumerate(t["bytes"])]
    page.add_charts("charts", "Growth over time", [
        ("series", f"Bytes per tag at each dump (the {SERIES_CHART_TAGS} largest growths)",
         line_chart(values, "dump", "dump", "tag")),
    ])
    page.add_table(tables["seriestags"], more="--format csv (dumpscan series)")
    page.suspects = _growth_suspects(page, tables["growthsuspects"])
    page.no_suspects = "None: no tag's growth exceeds the thresholds."
    return page.render()


# --------------------------------------------------------------------------------------
# an archive index


def archive_page(conn, label: str, query: Query | None = None) -> str:
    """An archive index (``dumpscan scan --db``): what it holds, the top tags and the
    drivers most often the top suspect across the fleet, dumps per kernel build, the
    dumps without a report, per-machine growth, and the symbol tables it waits for."""
    from ..archive.overview import BUILDS
    from ..archive.queries import QUERIES, IndexSource

    query = query or Query()
    source = IndexSource(conn)
    tables = {name: QUERIES[name].table(source, query) for name in
              ("top-tags", "top-suspect-drivers", "growth", "errors", "missing-symbols")}
    tables["builds"] = BUILDS.table(source, query)
    builds = [r.values for r in tables["builds"].rows]
    statuses = {}
    for build in builds:
        for name, value in build.items():
            if name not in ("kernel_build", "dumps", "machines") and value:
                statuses[name.replace("_", "-")] = statuses.get(name.replace("_", "-"), 0) + value
    total = sum(b["dumps"] for b in builds)
    machines = conn.execute("SELECT count(DISTINCT machine) FROM dumps").fetchone()[0]
    page = Page("archive", f"dumpscan archive: {label}", subtitle="The state of a dump archive (dumpscan scan)",
                facts_title="Index",
                facts=[Fact("Index", label),
                       Fact("Dumps", f"{number(total)} ("
                                     + ", ".join(f"{number(n)} {s}" for s, n in statuses.items()) + ")"),
                       Fact("Machines", number(machines)), Fact("Kernel builds", number(len(builds)))],
                warnings=list(tables["growth"].notes))
    tags = [r.values for r in tables["top-tags"].rows][:TOP_CHART]
    stacked = [{"tag": display_tag(t["tag"]), "pool": pool, "bytes": t[f"{pool}_bytes"]}
               for t in tags for pool in ("nonpaged", "paged") if t.get(f"{pool}_bytes")]
    drivers = [{"driver": r.values["driver"], "dumps": r.values["dumps"]}
               for r in tables["top-suspect-drivers"].rows][:TOP_CHART]
    per_build = [{"build": b["kernel_build"] or "unknown", "status": status.replace("_", "-"), "dumps": b[status]}
                 for b in builds for status in b if status not in ("kernel_build", "dumps", "machines") and b[status]]
    failed = [{"status": status, "dumps": n} for status, n in statuses.items() if status != "ok"]
    page.add_charts("charts", "The fleet", [
        ("toptags", "Top tags by outstanding bytes, all dumps (nonpaged and paged)",
         ranking_chart(stacked, "tag", "tag", color="pool")),
        ("suspectdrivers", "Drivers most often the top suspect",
         ranking_chart(drivers, "driver", "driver", value="dumps", value_title="dumps")),
        ("builds", "Dumps per kernel build",
         ranking_chart(per_build, "build", "kernel build", color="status", value="dumps", value_title="dumps")),
        ("errors", "Dumps without a report, by status",
         ranking_chart(failed, "status", "status", value="dumps", value_title="dumps")),
    ])
    for name in ("top-tags", "top-suspect-drivers", "growth", "builds", "errors", "missing-symbols"):
        page.add_table(tables[name], more=f"dumpscan query --db INDEX {name} --format csv")
    return page.render()


__all__ = ["archive_page", "MAX_ROWS", "Page", "Section", "Fact", "table_data", "embed_json", "vega_javascript",
           "report_page", "diff_page", "series_page"]
