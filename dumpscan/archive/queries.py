"""Ready-made questions to the index, each a view (``dumpscan.views``: named, typed
columns; every front end renders it), plus read-only SQL.

A query view's ``build`` takes an :class:`IndexSource` (the open index and the query's own
parameters) where a report view takes a report, and the views' :class:`Query` for the
shared filters (``--tag``, ``--driver``, ``--min-bytes``, ``--top``).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from ..views.match import driver_matcher, owners_matcher, tag_matcher
from ..views.model import Column, Row, Table, View
from ..views.options import Query

DEFAULT_TOP = 20


@dataclass(frozen=True)
class IndexSource(Mapping):
    """What a query view reads: the index, and ``machine`` (growth: one machine only)."""

    conn: sqlite3.Connection
    machine: str | None = None

    def __getitem__(self, key):
        if key not in ("conn", "machine"):
            raise KeyError(key)  # a report's keys (``dump``, ...): an index has none
        return getattr(self, key)

    def __iter__(self):
        return iter(("conn", "machine"))

    def __len__(self) -> int:
        return 2


def _input_columns() -> tuple[Column, ...]:
    return (Column("path", "str", "The dump file, or the container holding it"),
            Column("member", "str", "The dump inside the container (empty for a plain file)"),
            Column("machine", "str", "Machine identity (folder layout or --machine-pattern)"))


def _matching_tags(conn: sqlite3.Connection, query: Query) -> list[str]:
    """The tags of the archive that --tag matches (from ``tag_totals``: every tag that holds
    outstanding bytes somewhere)."""
    match = tag_matcher(query.tag or None)
    return [tag for (tag,) in conn.execute("SELECT tag FROM tag_totals ORDER BY tag") if match(tag)]


# --------------------------------------------------------------------------------------
# top-tags

def _top_tags(source: IndexSource, query: Query) -> Table:
    conn = source.conn
    tag, match_owners = tag_matcher(query.tag or None), owners_matcher(query.driver)
    limit = query.top or DEFAULT_TOP
    rows = []
    for key, name, dumps, total, paged, nonpaged, outstanding in conn.execute(
            "SELECT key, tag, dumps, bytes, paged_bytes, nonpaged_bytes, outstanding FROM tag_totals "
            "WHERE bytes >= ? ORDER BY bytes DESC, tag", (query.min_bytes,)):
        if not tag(name):
            continue
        owners = _owners(conn, name)
        if not match_owners(owners):
            continue
        largest = conn.execute("SELECT max(paged_bytes + nonpaged_bytes) FROM tags WHERE tag = ? AND partial = 0",
                               (name,)).fetchone()[0]
        rows.append(Row({"tag": name, "key": key, "dumps": dumps, "bytes": total, "paged_bytes": paged,
                         "nonpaged_bytes": nonpaged, "outstanding": outstanding, "largest": largest,
                         "drivers": owners}))
        if len(rows) == limit:
            break
    return Table(TOP_TAGS, rows)


def _owners(conn: sqlite3.Connection, tag: str) -> list[str]:
    """The owners the dumps attribute ``tag`` to (the greatest list, so that the answer does
    not depend on the order the dumps were scanned in; read from the index tags_tag_bytes)."""
    found = conn.execute("SELECT max(drivers) FROM tags WHERE tag = ? AND partial = 0 AND drivers != ''",
                         (tag,)).fetchone()[0]
    return found.split(";") if found else []


TOP_TAGS = View(
    "top-tags", "Top tags across the archive",
    "Pool tags by outstanding bytes summed over every analyzed dump.",
    (Column("tag", "tag", "Pool tag"), Column("key", "hex", "The tag as a little-endian integer"),
     Column("dumps", "int", "Dumps in which the tag holds outstanding bytes"),
     Column("bytes", "bytes", "Outstanding bytes, summed over the dumps"),
     Column("paged_bytes", "bytes", "Of them paged"),
     Column("nonpaged_bytes", "bytes", "Of them nonpaged", title="NonPagedBytes"),
     Column("outstanding", "int", "Outstanding allocations, summed"),
     Column("largest", "bytes", "The most outstanding bytes in one dump"),
     Column("drivers", "list", "Owners (attribution in one of the dumps)")),
    ("tag", "driver", "min_bytes", "top"), _top_tags)


# --------------------------------------------------------------------------------------
# tag-over

def _tag_over(source: IndexSource, query: Query) -> Table:
    conn = source.conn
    match_owners = owners_matcher(query.driver)
    names = ("path", "member", "machine", "tag", "bytes", "outstanding", "crash_time")
    rows = []
    for tag in _matching_tags(conn, query):
        for found in conn.execute(
                "SELECT dumps.path, dumps.member, dumps.machine, tags.tag, "
                "tags.paged_bytes + tags.nonpaged_bytes, tags.paged_outstanding + tags.nonpaged_outstanding, "
                "dumps.crash_time, tags.drivers FROM tags JOIN dumps ON dumps.id = tags.dump_id "
                "WHERE tags.tag = ? AND tags.partial = 0 AND tags.paged_bytes + tags.nonpaged_bytes >= ?",
                (tag, max(query.min_bytes, 1))):
            if match_owners((found[7] or "").split(";")):
                rows.append(Row(dict(zip(names, found))))
    rows.sort(key=lambda r: (-r.values["bytes"], r.values["path"], r.values["member"] or "", r.values["tag"]))
    return Table(TAG_OVER, query.limit(rows))


TAG_OVER = View(
    "tag-over", "Dumps in which a tag holds many bytes",
    "The dumps in which a tag (--tag, wildcards) has at least --min-bytes outstanding bytes.",
    _input_columns() + (
        Column("tag", "tag", "Pool tag"), Column("bytes", "bytes", "Outstanding bytes in this dump"),
        Column("outstanding", "int", "Outstanding allocations in this dump"),
        Column("crash_time", "str", "The dump's SystemTime (UTC)")),
    ("tag", "driver", "min_bytes", "top"), _tag_over)


# --------------------------------------------------------------------------------------
# top-suspect-drivers

def _top_suspect_drivers(source: IndexSource, query: Query) -> Table:
    conn = source.conn
    match = driver_matcher(query.driver or None)
    sql = ("SELECT suspects.driver, count(*) AS dumps, count(DISTINCT dumps.machine), "
           "sum(suspects.bytes), max(suspects.bytes), group_concat(DISTINCT suspects.name) "
           "FROM suspects JOIN dumps ON dumps.id = suspects.dump_id "
           "WHERE suspects.rank = 0 AND suspects.driver IS NOT NULL "
           "GROUP BY suspects.driver ORDER BY dumps DESC, sum(suspects.bytes) DESC, suspects.driver")
    names = ("driver", "dumps", "machines", "bytes", "largest", "subjects")
    rows = [Row(dict(zip(names, (*r[:5], sorted((r[5] or "").split(",")))))) for r in conn.execute(sql)
            if match(r[0])]
    return Table(TOP_SUSPECT_DRIVERS, query.limit(rows, DEFAULT_TOP))


TOP_SUSPECT_DRIVERS = View(
    "top-suspect-drivers", "Drivers most often the top suspect",
    "For each driver: in how many dumps the first suspect points at it.",
    (Column("driver", "str", "The driver of the top suspect (itself, its call site's, or its tag's owner)"),
     Column("dumps", "int", "Dumps whose top suspect it is"),
     Column("machines", "int", "Distinct machines among them"),
     Column("bytes", "bytes", "The suspects' outstanding bytes, summed"),
     Column("largest", "bytes", "The largest in one dump"),
     Column("subjects", "list", "What was suspected: tags or the driver itself")),
    ("driver", "top"), _top_suspect_drivers)


# --------------------------------------------------------------------------------------
# errors

def _errors(source: IndexSource, query: Query) -> Table:
    sql = ("SELECT path, member, machine, status, coalesce(error, note) FROM dumps "
           "WHERE status != 'ok' ORDER BY status, path, member" + (" LIMIT ?" if query.top else ""))
    names = ("path", "member", "machine", "status", "message")
    return Table(ERRORS, [Row(dict(zip(names, r)))
                          for r in source.conn.execute(sql, (query.top,) if query.top else ())])


ERRORS = View(
    "errors", "Dumps without a report",
    "Every input that is not 'ok': errors, dumps that hold no pool data, dumps waiting for symbols.",
    _input_columns() + (Column("status", "str", "error, no-pool-data or needs-symbols"),
                        Column("message", "str", "What is wrong, or what the dump is")),
    ("top",), _errors)


# --------------------------------------------------------------------------------------
# missing-symbols

def _missing_symbols(source: IndexSource, query: Query) -> Table:
    sql = ("SELECT pdb_name, pdb_guid, pdb_age, count(*) AS dumps, min(path) FROM dumps "
           "WHERE status = 'needs-symbols' GROUP BY pdb_name, pdb_guid, pdb_age "
           "ORDER BY dumps DESC, pdb_name, pdb_guid")
    rows = [Row({"pdb": pdb, "guid": guid, "age": age, "dumps": count,
                 "isf": f"windows/{pdb}/{guid}-{age}.json.xz", "example": example})
            for pdb, guid, age, count, example in source.conn.execute(sql)]
    return Table(MISSING_SYMBOLS, query.limit(rows))


MISSING_SYMBOLS = View(
    "missing-symbols", "Symbol tables the archive waits for",
    "Each missing kernel symbol table with the number of dumps waiting for it; put the ISF at "
    "the given place under a symbol directory and scan again: exactly these dumps are retried.",
    (Column("pdb", "str", "PDB name"), Column("guid", "str", "PDB GUID"), Column("age", "int", "PDB age"),
     Column("dumps", "int", "Dumps waiting for it"),
     Column("isf", "str", "Where its ISF goes under a symbol directory"),
     Column("example", "str", "One of the dumps")),
    ("top",), _missing_symbols)


# --------------------------------------------------------------------------------------
# growth: the series analysis per machine, from the stored reports

def _growth(source: IndexSource, query: Query) -> Table:
    from ..analysis.diff import series
    from .rows import decode_report

    conn = source.conn
    match = tag_matcher(query.tag or None)
    machines = [m for (m,) in conn.execute(
        "SELECT machine FROM dumps WHERE status = 'ok' AND machine IS NOT NULL"
        + (" AND machine = ?" if source.machine else "")
        + " GROUP BY machine HAVING count(*) >= 2 ORDER BY machine",
        (source.machine,) if source.machine else ())]
    rows, notes = [], []
    for machine in machines:
        stored = conn.execute(
            "SELECT dumps.path, dumps.member, reports.report FROM dumps JOIN reports "
            "ON reports.dump_id = dumps.id WHERE dumps.status = 'ok' AND dumps.machine = ? "
            "ORDER BY dumps.path, dumps.member", (machine,)).fetchall()
        labels = [p if m is None else f"{p}!{m}" for p, m, _ in stored]
        result = series([decode_report(blob) for _, _, blob in stored], labels=labels,
                        thresholds=query.thresholds())
        notes += [f"{machine}: {w}" for w in result["warnings"]]
        points = result["points"]
        for grower in result["tags"]:
            if not match(grower["tag"]) or grower["growth_bytes"] < query.min_bytes:
                continue
            rows.append(Row({"machine": machine, "tag": grower["tag"], "dumps": len(points),
                             "first": points[0]["label"], "last": points[-1]["label"],
                             "bytes_first": grower["bytes"][0], "bytes_last": grower["bytes"][-1],
                             "growth_bytes": grower["growth_bytes"], "growth_count": grower["growth_count"],
                             "bytes_per_hour": grower["bytes_per_hour"], "strict": grower["strict"]}))
    rows.sort(key=lambda r: (-r.values["growth_bytes"], r.values["machine"], r.values["tag"]))
    return Table(GROWTH, query.limit(rows, DEFAULT_TOP), notes=notes)


GROWTH = View(
    "growth", "Tags growing per machine",
    "The series analysis (dumpscan series) of each machine's dumps, from the stored reports: "
    "tags whose outstanding bytes and allocations never decrease and grew.",
    (Column("machine", "str", "Machine identity"), Column("tag", "tag", "Pool tag"),
     Column("dumps", "int", "Dumps in the machine's series"),
     Column("first", "str", "The oldest dump"), Column("last", "str", "The newest dump"),
     Column("bytes_first", "bytes", "Outstanding bytes in the oldest dump"),
     Column("bytes_last", "bytes", "Outstanding bytes in the newest dump"),
     Column("growth_bytes", "bytes", "Growth in bytes"), Column("growth_count", "int", "Growth in allocations"),
     Column("bytes_per_hour", "float", "Growth rate per hour (uptime, else system time)"),
     Column("strict", "bool", "Grew at every step")),
    ("tag", "min_bytes", "top", "threshold"), _growth)


QUERIES: dict[str, View] = {view.name: view for view in (
    TOP_TAGS, TAG_OVER, TOP_SUSPECT_DRIVERS, ERRORS, GROWTH, MISSING_SYMBOLS)}


# --------------------------------------------------------------------------------------
# read-only SQL

def sql_table(conn: sqlite3.Connection, sql: str) -> Table:
    """Any SQL on a read-only connection, as a view whose columns are the result's (text
    columns: JSON keeps the values' own types; a BLOB is shown as hex)."""
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description or ()]
    if len(set(names)) != len(names):  # duplicate result names (SELECT a.x, b.x): numbered
        names = [f"{n}_{i}" for i, n in enumerate(names)]
    view = View("sql", "SQL", sql, tuple(Column(n, "str", n, title=n) for n in names), (),
                lambda source, query: Table(view, []))
    return Table(view, [Row({n: (v.hex() if isinstance(v, bytes) else v) for n, v in zip(names, r)})
                        for r in cursor])
