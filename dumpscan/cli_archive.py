"""The archive commands of ``dumpscan``: ``scan``, ``query``, ``export`` (added to the main
group by dumpscan/commands.py; options from dumpscan/cli.py, the engine imported only when
a command runs).

Exit status: 0 done (dumps that could not be analyzed are rows of the index, not a
failure of the scan); 2 usage error, or the index cannot be opened or written;
130 the scan was interrupted (Ctrl-C): what was finished is kept, the same command finishes it.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from .archive.limits import Limits
from .archive.queries import QUERIES
from .cli import symbol_dirs, symbols_option, view_option

SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
DEFAULT_TIMEOUT = 900.0
DEFAULT_MAX_MEMORY = "8G"
QUERY_FORMATS = ("text", "csv", "json")


def parse_size(text: str) -> int:
    """'8G', '512M', '1.5G', '4096' -> bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise click.BadParameter(f"{text!r}: expected a size such as 512M or 8G")
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])


def _size_option(name: str, default: str, help_text: str):
    return click.option(name, default=default, show_default=True, metavar="SIZE",
                        callback=lambda ctx, param, value: parse_size(value), help=help_text)


def _fail(message: str) -> None:
    click.echo(f"dumpscan: {message}", err=True)
    sys.exit(2)


def _open(db: Path, read_only: bool):
    from .archive.index import IndexUnusable, open_index

    try:
        return open_index(db, read_only=read_only)
    except IndexUnusable as exc:
        _fail(str(exc))


# --------------------------------------------------------------------------------------
# scan


@click.command("scan")
@click.argument("archives", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The index (an SQLite file; created if absent).")
@symbols_option
@view_option("pooltag")
@view_option("threshold")
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Local worker processes (default: one per CPU; 0 = analyze in this process, "
                   "without --timeout/--max-memory).")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run the analyses on this Dask cluster (dask scheduler / dask worker); the dumps and "
                   "symbols must be at the same paths on every worker.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT, show_default=True,
              metavar="SECONDS", help="Per-dump time limit; a dump over it becomes an error row.")
@_size_option("--max-memory", DEFAULT_MAX_MEMORY,
              "Per-worker address-space limit (local pool: RLIMIT_AS); a dump over it becomes an error row.")
@click.option("--tmp-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where dumps inside containers are streamed for their analysis (default: the "
                   "system's temporary folder; never next to the archive).")
@_size_option("--tmp-quota", f"{Limits.quota >> 30}G",
              "Disk space one extracted dump may take (each worker extracts one at a time).")
@click.option("--max-ratio", type=click.FloatRange(min=1), default=Limits.max_ratio, show_default=True,
              help="Refuse a member that expands to more than this many times its container's size "
                   "(past 64 MiB): a decompression bomb.")
@click.option("--machine-pattern", metavar="REGEX",
              help="Machine identity from the path: the group 'machine' (or the first group) of this "
                   "regular expression (default: the first folder under each ARCHIVE).")
@click.option("--rescan", is_flag=True, help="Analyze every dump again, changed or not.")
@click.option("-q", "--quiet", is_flag=True, help="No line per dump that is not 'ok' (the summary stays).")
def scan_command(archives: tuple[Path, ...], db: Path, symbols: tuple[Path, ...], pooltag: str | None,
                 threshold: tuple[str, ...], workers: int | None, scheduler: str | None, timeout: float,
                 max_memory: int, tmp_dir: Path | None, tmp_quota: int, max_ratio: float,
                 machine_pattern: str | None, rescan: bool, quiet: bool) -> None:
    """Scan dump archives into an index: every crash dump under ARCHIVE (found by content,
    also inside .zip/.7z/.cab/.gz/.xz/.bz2), analyzed once.

    A second scan analyzes only new and changed dumps, and the dumps that waited for a
    symbol table that has appeared since. Interrupt it at any time: the next run goes on.
    Query the index with 'dumpscan query', export it with 'dumpscan export'.
    """
    from .archive.discover import MachinePattern
    from .archive.scan import Runner, scan
    from .archive.worker import Settings
    from .views.options import OptionError, Query

    try:
        thresholds = Query.from_values({"threshold": threshold}).thresholds()
        machines = MachinePattern(machine_pattern)
    except OptionError as exc:
        _fail(str(exc))
    except re.error as exc:
        _fail(f"--machine-pattern: {exc}")
    missing = [str(a) for a in archives if not os.path.exists(a)]
    if missing:
        _fail(f"{missing[0]}: no such file or directory")
    settings = Settings(symbol_dirs=tuple(os.path.abspath(d) for d in symbol_dirs(symbols)),
                        pooltag=os.path.abspath(pooltag) if pooltag else None,
                        thresholds=thresholds.as_dict(),
                        tmp_dir=os.path.abspath(tmp_dir) if tmp_dir else None,
                        limits=Limits(quota=tmp_quota, max_ratio=max_ratio))
    runner = Runner(workers=os.cpu_count() or 1 if workers is None else workers, scheduler=scheduler,
                    timeout=timeout, max_memory=max_memory)
    conn = _open(db, read_only=False)
    try:
        summary = scan(conn, list(archives), settings, runner, machines=machines, rescan=rescan,
                       report=None if quiet else lambda line: click.echo(f"dumpscan: {line}", err=True))
    finally:
        conn.close()
    for line in summary.lines():
        click.echo(f"dumpscan: scan: {line}", err=True)
    if summary.interrupted:
        sys.exit(130)


# --------------------------------------------------------------------------------------
# query


@click.command("query")
@click.argument("name", required=False, type=click.Choice(list(QUERIES)))
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The index.")
@click.option("--sql", metavar="SELECT...", help="Run this read-only SQL instead of a named query.")
@view_option("tag")
@view_option("driver")
@view_option("min_bytes")
@view_option("top")
@view_option("threshold")
@click.option("--machine", help="growth: only this machine.")
@click.option("--format", "output_format", type=click.Choice(QUERY_FORMATS), default="text", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
def query_command(name: str | None, db: Path, sql: str | None, tag, driver, min_bytes, top, threshold,
                  machine: str | None, output_format: str, out: Path | None) -> None:
    """Ask the index a question.

    \b
    top-tags              pool tags by outstanding bytes over the whole archive
    tag-over              dumps where --tag has at least --min-bytes outstanding bytes
    top-suspect-drivers   drivers most often the top suspect
    errors                dumps without a report (errors, no pool data, waiting for symbols)
    growth                per machine: tags growing across its dumps (the series analysis)
    missing-symbols       symbol tables the archive waits for, with the number of dumps each
    --sql 'SELECT ...'    any read-only SQL (tables: docs/index-schema.md)
    """
    import sqlite3

    from .archive.queries import IndexSource, sql_table
    from .views.options import OptionError, Query

    if (name is None) == (sql is None):
        raise click.UsageError("name a query, or give --sql (not both)")
    if name == "tag-over" and not tag:
        raise click.UsageError("tag-over needs --tag PATTERN")
    try:
        query = Query.from_values({"tag": tag, "driver": driver, "min_bytes": min_bytes, "top": top,
                                   "threshold": threshold})
    except OptionError as exc:
        _fail(str(exc))
    conn = _open(db, read_only=True)
    try:
        table = sql_table(conn, sql) if sql else QUERIES[name].table(IndexSource(conn, machine), query)
    except sqlite3.Error as exc:
        _fail(f"{'--sql' if sql else name}: {' '.join(str(exc).split())}")
    finally:
        conn.close()
    text = render(table, output_format)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
    if output_format != "text":
        for note in table.notes:
            click.echo(f"dumpscan: {note}", err=True)


def render(table, output_format: str) -> str:
    """A query's table in the chosen format (the views' front ends; text shows the notes
    after the table)."""
    if output_format == "text":
        from .report.render_text import render_table

        return render_table(table)
    if output_format == "csv":
        from .report.render_csv import CsvFrontend

        frontend = CsvFrontend()
    else:
        from .report.render_json import JsonFrontend

        frontend = JsonFrontend()
    frontend.add(table)
    return frontend.finish()


# --------------------------------------------------------------------------------------
# export


@click.command("export")
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The index.")
@click.option("--format", "output_format", type=click.Choice(["parquet", "csv"]), default="parquet",
              show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder for one file per table (dumps, tags, drivers, callsites, suspects, reports).")
def export_command(db: Path, output_format: str, out_dir: Path) -> None:
    """Export the index for pandas, DuckDB or Spark: one Parquet or CSV file per table."""
    from .archive.export import export

    conn = _open(db, read_only=True)
    try:
        written = export(conn, out_dir, output_format)
    except OSError as exc:
        _fail(f"{out_dir}: cannot write: {exc.strerror or exc}")
    finally:
        conn.close()
    for path, rows in written:
        click.echo(f"{path}  {rows} rows")


ARCHIVE_COMMANDS = (scan_command, query_command, export_command)
