"""Growth views: the tables of a ``diff`` (:func:`dumpscan.analysis.diff.diff_reports`)
and of a ``series`` (:func:`dumpscan.analysis.diff.series`) result.

They take that result where a report view takes a report, so they are kept apart from
:data:`dumpscan.views.VIEWS` (whose names are ``analyze --section`` values):
:data:`GROWTH_VIEWS` by name. ``--tag`` and ``--top`` filter them.
"""
from __future__ import annotations

from collections.abc import Mapping

from .match import tag_matcher
from .model import Column, Row, Table, View
from .options import Query


def _tagged(items, query: Query) -> list[dict]:
    match = tag_matcher(query.tag)
    return [t for t in items or [] if isinstance(t, dict) and match(t.get("tag", ""))]


# ---------------------------------------------------------------------------------------
# difftags

DIFF_TAG_COLUMNS = (
    Column("tag", "tag", "The pool tag"),
    Column("key", "hex", "The tag as the 32-bit Key the tables store"),
    Column("status", "str", "changed, new, vanished, or partial (a tag-table page absent in one "
                            "dump: not compared)"),
    Column("outstanding_before", "int", "Outstanding allocations in the older dump"),
    Column("outstanding_after", "int", "Outstanding allocations in the newer dump"),
    Column("outstanding_delta", "int", "Their change"),
    Column("bytes_before", "bytes", "Bytes in use in the older dump"),
    Column("bytes_after", "bytes", "Bytes in use in the newer dump"),
    Column("bytes_delta", "bytes", "Their change"),
    Column("nonpaged_bytes_delta", "bytes", "Of it nonpaged", title="NonPagedBytesDelta"),
    Column("paged_bytes_delta", "bytes", "Of it paged"),
    Column("bytes_per_hour", "float", "Bytes per hour of elapsed time (uptime, else wall clock)"),
)


def build_difftags(result: Mapping, query: Query) -> Table:
    items = _tagged(result.get("tags"), query) + _tagged(result.get("partial"), query)
    rows = [Row.of(DIFF_TAG_COLUMNS, t) for t in items]
    return Table(DIFF_TAGS, query.limit(rows))


DIFF_TAGS = View(
    "difftags", "tags that changed",
    "Per-tag changes from the older dump to the newer, largest byte growth first; then the "
    "tags whose totals are partial in one dump (not compared).",
    DIFF_TAG_COLUMNS, ("tag", "top"), build_difftags)


# ---------------------------------------------------------------------------------------
# diffbigpool

DIFF_BIGPOOL_COLUMNS = (
    Column("change", "str", "new (live only in the newer dump) or vanished (only in the older)"),
    Column("tag", "tag", "The pool tag"),
    Column("blocks", "int", "Big-pool blocks"),
    Column("bytes", "bytes", "Their bytes"),
)


def build_diffbigpool(result: Mapping, query: Query) -> Table:
    big = result.get("bigpool") or {}
    rows = [Row({"change": change, "tag": g.get("tag"), "blocks": g.get("count"), "bytes": g.get("bytes")})
            for change in ("new", "vanished") for g in _tagged(big.get(change), query)]
    return Table(DIFF_BIGPOOL, query.limit(rows))


DIFF_BIGPOOL = View(
    "diffbigpool", "big-pool blocks that appeared or vanished",
    "Big-pool blocks live in only one of the two dumps (by address and tag), grouped by tag.",
    DIFF_BIGPOOL_COLUMNS, ("tag", "top"), build_diffbigpool)


# ---------------------------------------------------------------------------------------
# diffdrivers

DIFF_DRIVER_COLUMNS = (
    Column("driver", "str", "The verified driver"),
    Column("loaded_before", "bool", "Loaded in the older dump (empty: not verified there)"),
    Column("loaded_after", "bool", "Loaded in the newer dump (empty: not verified there)"),
    Column("outstanding_before", "int", "Outstanding tracked allocations, older dump"),
    Column("outstanding_after", "int", "Outstanding tracked allocations, newer dump"),
    Column("bytes_before", "bytes", "Outstanding bytes, older dump"),
    Column("bytes_after", "bytes", "Outstanding bytes, newer dump"),
    Column("bytes_delta", "bytes", "Their change"),
    Column("new_allocations", "int", "Tracked allocations only in the newer dump"),
    Column("freed_allocations", "int", "Tracked allocations only in the older dump"),
    Column("bytes_per_hour", "float", "Bytes per hour of elapsed time"),
)


def build_diffdrivers(result: Mapping, query: Query) -> Table:
    rows = [Row.of(DIFF_DRIVER_COLUMNS, {**d, "driver": d.get("name")})
            for d in result.get("drivers") or [] if isinstance(d, dict)]
    return Table(DIFF_DRIVERS, query.limit(rows))


DIFF_DRIVERS = View(
    "diffdrivers", "verified drivers",
    "Verified drivers' outstanding tracked allocations in both dumps, largest growth first.",
    DIFF_DRIVER_COLUMNS, ("top",), build_diffdrivers)


# ---------------------------------------------------------------------------------------
# seriestags

SERIES_TAG_COLUMNS = (
    Column("tag", "tag", "The pool tag"),
    Column("key", "hex", "The tag as the 32-bit Key the tables store"),
    Column("growth_bytes", "bytes", "Bytes in use, last dump minus first"),
    Column("growth_count", "int", "Outstanding allocations, last dump minus first"),
    Column("bytes_per_hour", "float", "Byte growth per hour of elapsed time"),
    Column("strict", "bool", "Grew at every step (not only never shrank)"),
    Column("bytes", "list", "Bytes in use at each dump, oldest first", joiner=" -> "),
    Column("outstanding", "list", "Outstanding allocations at each dump, oldest first", joiner=" -> "),
)


def build_seriestags(result: Mapping, query: Query) -> Table:
    rows = [Row.of(SERIES_TAG_COLUMNS, t) for t in _tagged(result.get("tags"), query)]
    return Table(SERIES_TAGS, query.limit(rows))


SERIES_TAGS = View(
    "seriestags", "tags growing across the dumps",
    "Tags whose outstanding allocations and bytes never shrink from one dump to the next "
    "and grew overall, largest byte growth first.",
    SERIES_TAG_COLUMNS, ("tag", "top"), build_seriestags)


# ---------------------------------------------------------------------------------------
# growthsuspects

GROWTH_SUSPECT_COLUMNS = (
    Column("rank", "int", "The suspect's rank"),
    Column("severity", "str", "high, medium or low"),
    Column("name", "tag", "The growing tag"),
    Column("bytes", "bytes", "Outstanding bytes in the newest dump"),
    Column("count", "int", "Outstanding allocations in the newest dump"),
    Column("drivers", "list", "The tag's owners"),
    Column("rules", "list", "The rules that flag it (docs/analysis.md)"),
    Column("evidence", "list", "One line per rule", joiner=" | "),
)


def build_growthsuspects(result: Mapping, query: Query) -> Table:
    from ..analysis.leaks import owner_names

    match = tag_matcher(query.tag)
    rows = [Row({"rank": rank, "severity": s.get("severity"), "name": s.get("name"), "bytes": s.get("bytes"),
                 "count": s.get("count"), "drivers": owner_names(s.get("drivers")),
                 "rules": list(s.get("rules") or []),
                 "evidence": [" ".join(str(e).split()) for e in s.get("evidence") or []]})
            for rank, s in enumerate((s for s in result.get("suspects") or []
                                      if isinstance(s, dict) and match(s.get("name", ""))), 1)]
    return Table(GROWTH_SUSPECTS, query.limit(rows))


GROWTH_SUSPECTS = View(
    "growthsuspects", "growth suspects",
    "Tags the growth rule flags in the newest dump, most severe first, with their evidence.",
    GROWTH_SUSPECT_COLUMNS, ("tag", "top"), build_growthsuspects)


GROWTH_VIEWS: dict[str, View] = {view.name: view for view in (
    DIFF_TAGS, DIFF_BIGPOOL, DIFF_DRIVERS, SERIES_TAGS, GROWTH_SUSPECTS)}
