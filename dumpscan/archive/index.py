"""The scan index: one SQLite file (docs/index-schema.md), versioned and migrated on open.

``PRAGMA user_version`` holds the schema version; :func:`open_index` applies the missing
steps of :data:`MIGRATIONS` in one transaction each, and refuses an index made by a newer
dumpscan. Each dump's rows are written in one transaction (:func:`store`): a scan killed at
any moment leaves every dump either fully recorded or absent, never half.

A dump's ``id`` is derived from its input identity (path and member), so that two scans of
the same archive, in any order or on any cluster, give identical rows.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

SCHEMA_VERSION = 1
STATUSES = ("ok", "error", "no-pool-data", "needs-symbols")

# Column declarations of every table: (name, SQL type). docs/index-schema.md explains them.
TABLES: dict[str, list[tuple[str, str]]] = {
    "dumps": [
        ("id", "INTEGER PRIMARY KEY"), ("path", "TEXT NOT NULL"), ("member", "TEXT"),
        ("machine", "TEXT"), ("fingerprint", "TEXT"), ("size", "INTEGER"), ("mtime_ns", "INTEGER"),
        ("status", "TEXT NOT NULL CHECK (status IN ('ok', 'error', 'no-pool-data', 'needs-symbols'))"),
        ("error", "TEXT"), ("note", "TEXT"), ("arch", "TEXT"), ("kernel_build", "TEXT"),
        ("dump_type", "INTEGER"), ("bugcheck_code", "INTEGER"), ("crash_time", "TEXT"),
        ("uptime_seconds", "REAL"), ("pdb_name", "TEXT"), ("pdb_guid", "TEXT"), ("pdb_age", "INTEGER"),
        ("suspects", "INTEGER"), ("exit_status", "INTEGER"), ("seconds", "REAL"),
    ],
    "tags": [
        ("dump_id", "INTEGER NOT NULL"), ("key", "INTEGER"), ("tag", "TEXT"),
        ("paged_allocs", "INTEGER"), ("paged_frees", "INTEGER"), ("paged_bytes", "INTEGER"),
        ("nonpaged_allocs", "INTEGER"), ("nonpaged_frees", "INTEGER"), ("nonpaged_bytes", "INTEGER"),
        ("paged_outstanding", "INTEGER"), ("nonpaged_outstanding", "INTEGER"),
        ("drivers", "TEXT"), ("partial", "INTEGER"),
    ],
    "drivers": [
        ("dump_id", "INTEGER NOT NULL"), ("name", "TEXT"), ("loaded", "INTEGER"),
        ("outstanding", "INTEGER"), ("outstanding_bytes", "INTEGER"), ("found_by", "TEXT"),
        ("tracker_pages", "INTEGER"), ("free_slots", "INTEGER"), ("dll_base", "TEXT"),
        ("image_size", "INTEGER"), ("counters", "TEXT"),
    ],
    "callsites": [
        ("dump_id", "INTEGER NOT NULL"), ("rank", "INTEGER"), ("caller", "TEXT"), ("symbol", "TEXT"),
        ("driver", "TEXT"), ("count", "INTEGER"), ("bytes", "INTEGER"), ("tags", "TEXT"),
        ("traced", "INTEGER"),
    ],
    "suspects": [
        ("dump_id", "INTEGER NOT NULL"), ("rank", "INTEGER"), ("kind", "TEXT"), ("name", "TEXT"),
        ("severity", "TEXT"), ("bytes", "INTEGER"), ("count", "INTEGER"), ("rules", "TEXT"),
        ("evidence", "TEXT"), ("key", "INTEGER"), ("driver", "TEXT"), ("caller", "TEXT"),
        ("caller_symbol", "TEXT"),
    ],
    "reports": [
        ("dump_id", "INTEGER PRIMARY KEY"), ("encoding", "TEXT"), ("report", "BLOB"),
    ],
    "tag_totals": [
        ("key", "INTEGER PRIMARY KEY"), ("tag", "TEXT"), ("dumps", "INTEGER"), ("bytes", "INTEGER"),
        ("paged_bytes", "INTEGER"), ("nonpaged_bytes", "INTEGER"), ("outstanding", "INTEGER"),
    ],
    "containers": [
        ("path", "TEXT PRIMARY KEY"), ("kind", "TEXT"), ("size", "INTEGER"), ("mtime_ns", "INTEGER"),
        ("members", "INTEGER"),
    ],
    "skipped": [
        ("path", "TEXT NOT NULL"), ("member", "TEXT NOT NULL"), ("size", "INTEGER"),
        ("mtime_ns", "INTEGER"), ("reason", "TEXT"),
    ],
}
CHILD_TABLES = ("tags", "drivers", "callsites", "suspects", "reports")


def _create(table: str) -> str:
    columns = ", ".join(f"{name} {kind}" for name, kind in TABLES[table])
    extra = ", PRIMARY KEY (path, member)" if table == "skipped" else ""
    return f"CREATE TABLE {table} ({columns}{extra})"


MIGRATIONS: dict[int, list[str]] = {  # version -> the statements that reach it from version - 1
    1: [_create(t) for t in TABLES] + [
        "CREATE UNIQUE INDEX dumps_input ON dumps (path, ifnull(member, ''))",
        "CREATE INDEX dumps_machine ON dumps (machine)",
        "CREATE INDEX dumps_status ON dumps (status)",
        "CREATE INDEX tags_dump ON tags (dump_id)",
        "CREATE INDEX tags_tag_bytes ON tags (tag, partial, paged_bytes + nonpaged_bytes, drivers)",
        "CREATE INDEX drivers_dump ON drivers (dump_id)",
        "CREATE INDEX callsites_dump ON callsites (dump_id)",
        "CREATE INDEX suspects_dump ON suspects (dump_id)",
    ],
}


class IndexUnusable(Exception):
    """The index cannot be opened or is of another version (one line)."""


def dump_id(path: str, member: str | None) -> int:
    """The stable id of an input: 63 bits of BLAKE2b over its path and member."""
    digest = hashlib.blake2b(f"{path}\0{member or ''}".encode("utf-8", "surrogateescape"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def open_index(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """The index at ``path`` (created and migrated unless ``read_only``)."""
    try:
        if read_only:
            if not Path(path).is_file():
                raise IndexUnusable(f"{path}: no such index (run 'dumpscan scan --db {path}' first)")
            conn = sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True)
            conn.execute("PRAGMA query_only = ON")
        else:
            conn = sqlite3.connect(str(path), timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise IndexUnusable(f"{path}: not a dumpscan index ({exc})") from None
    if version > SCHEMA_VERSION:
        conn.close()
        raise IndexUnusable(f"{path}: index schema version {version} is newer than this dumpscan's "
                          f"({SCHEMA_VERSION}); use a newer dumpscan")
    if version < SCHEMA_VERSION:
        if read_only:
            conn.close()
            raise IndexUnusable(f"{path}: index schema version {version}, this dumpscan reads "
                              f"{SCHEMA_VERSION}: run 'dumpscan scan --db {path}' to migrate it")
        migrate(conn, version)
    return conn


def migrate(conn: sqlite3.Connection, version: int) -> None:
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def columns(table: str) -> list[str]:
    return [name for name, _ in TABLES[table]]


def store(conn: sqlite3.Connection, outcome: Mapping) -> None:
    """Record one worker outcome (``worker.Outcome.as_dict()``) in one transaction: a dump
    row with its child rows (replacing an earlier one of the same input), or a skipped
    member."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if outcome.get("skipped") is not None:
            skipped = outcome["skipped"]
            conn.execute("INSERT OR REPLACE INTO skipped (path, member, size, mtime_ns, reason) "
                         "VALUES (?, ?, ?, ?, ?)", [skipped[c] for c in columns("skipped")])
        else:
            row = outcome["dump"]
            _delete(conn, row["id"])
            _insert(conn, "dumps", [row])
            for table in CHILD_TABLES:
                _insert(conn, table, outcome.get(table) or [])
            add_tag_totals(conn, row["id"])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# Per tag, over the dumps in which it holds outstanding bytes (complete totals only): kept in
# step with ``tags`` in the same transaction, so that ranking the tags of a whole archive
# reads one row per tag instead of every dump's.
_TAG_TOTALS = """INSERT INTO tag_totals (key, tag, dumps, bytes, paged_bytes, nonpaged_bytes, outstanding)
SELECT key, tag, {sign}1, {sign}(paged_bytes + nonpaged_bytes), {sign}paged_bytes, {sign}nonpaged_bytes,
       {sign}(paged_outstanding + nonpaged_outstanding)
FROM tags WHERE dump_id = ? AND partial = 0 AND paged_bytes + nonpaged_bytes > 0
ON CONFLICT (key) DO UPDATE SET dumps = dumps + excluded.dumps, bytes = bytes + excluded.bytes,
    paged_bytes = paged_bytes + excluded.paged_bytes, nonpaged_bytes = nonpaged_bytes + excluded.nonpaged_bytes,
    outstanding = outstanding + excluded.outstanding"""


def add_tag_totals(conn: sqlite3.Connection, ident: int, sign: str = "+") -> None:
    """Add (sign '+') or take away ('-') the tags of dump ``ident`` to ``tag_totals``."""
    conn.execute(_TAG_TOTALS.format(sign=sign), (ident,))
    if sign == "-":
        conn.execute("DELETE FROM tag_totals WHERE dumps = 0")


def _delete(conn: sqlite3.Connection, ident: int) -> None:
    add_tag_totals(conn, ident, "-")
    conn.execute("DELETE FROM dumps WHERE id = ?", (ident,))
    for table in CHILD_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE dump_id = ?", (ident,))


def _insert(conn: sqlite3.Connection, table: str, rows: Iterable[Mapping]) -> None:
    names = columns(table)
    conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     ([row.get(n) for n in names] for row in rows))


def store_container(conn: sqlite3.Connection, path: str, kind: str, size: int, mtime_ns: int,
                    members: int) -> None:
    conn.execute("INSERT OR REPLACE INTO containers (path, kind, size, mtime_ns, members) "
                 "VALUES (?, ?, ?, ?, ?)", (path, kind, size, mtime_ns, members))


def update_machine(conn: sqlite3.Connection, ident: int, machine: str | None) -> None:
    """A dump's machine identity, which comes from its path, not its analysis."""
    conn.execute("UPDATE dumps SET machine = ? WHERE id = ?", (machine, ident))


def update_stat(conn: sqlite3.Connection, ident: int, size: int, mtime_ns: int) -> None:
    """A dump only touched or copied (same fingerprint): its new size/time, no analysis."""
    conn.execute("UPDATE dumps SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, ident))
