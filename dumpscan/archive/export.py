"""The index's tables as files for pandas, DuckDB or Spark: one Parquet file (pyarrow) or
one CSV file per table, ``DIR/<table>.parquet`` / ``DIR/<table>.csv``.

Column names and meaning are the index's (docs/index-schema.md); the ``reports`` table's
compressed documents are written as their JSON text. Rows are streamed in batches, so an
index of any size exports in bounded memory.
"""
from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from .index import TABLES, columns
from .rows import REPORT_ENCODING, decode_report

EXPORTED = ("dumps", "tags", "drivers", "callsites", "suspects", "reports")
BATCH_ROWS = 50_000
FORMATS = ("parquet", "csv")


def _rows(conn: sqlite3.Connection, table: str):
    cursor = conn.execute(f"SELECT {', '.join(columns(table))} FROM {table} ORDER BY rowid")
    while True:
        batch = cursor.fetchmany(BATCH_ROWS)
        if not batch:
            return
        if table == "reports":
            import json

            batch = [(ident, "json", json.dumps(decode_report(blob), separators=(",", ":"))
                      if encoding == REPORT_ENCODING else None) for ident, encoding, blob in batch]
        yield batch


def export(conn: sqlite3.Connection, out_dir: Path, fmt: str) -> list[tuple[Path, int]]:
    """Write every exported table; (file, rows) of each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in EXPORTED:
        target = out_dir / f"{table}.{fmt}"
        count = (_parquet if fmt == "parquet" else _csv)(conn, table, target)
        written.append((target, count))
    return written


def _csv(conn: sqlite3.Connection, table: str, target: Path) -> int:
    count = 0
    with open(target, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns(table))
        for batch in _rows(conn, table):
            writer.writerows(batch)
            count += len(batch)
    return count


def _arrow_type(sql_type: str):
    import pyarrow as pa

    kind = sql_type.split()[0]
    return {"INTEGER": pa.int64(), "REAL": pa.float64(), "TEXT": pa.string(), "BLOB": pa.string()}[kind]


def _parquet(conn: sqlite3.Connection, table: str, target: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, _arrow_type(kind)) for name, kind in TABLES[table]])
    count = 0
    with pq.ParquetWriter(str(target), schema) as writer:
        for batch in _rows(conn, table):
            arrays = [pa.array([row[i] for row in batch], type=field.type) for i, field in enumerate(schema)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            count += len(batch)
    return count
