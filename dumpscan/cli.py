"""The ``dumpscan`` command line: a thin layer over ``dumpscan.analysis`` and
``dumpscan.report``.

Exit status: 0 = done (nothing over the thresholds, or ``--fail-on-suspect`` not given);
1 = ``--fail-on-suspect`` and a suspect exceeds the thresholds (``leaks.exit_status``);
2 = usage error, or no dump could be analyzed. Every problem with a dump is one line on
stderr, ``dumpscan: PATH: what is wrong``; never a traceback.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import click

from . import __version__
from .analysis.batch import one_line_error
from .cli_archive import ARCHIVE_COMMANDS
from .report.select import SORTS
from .symbols.finder import SYMBOLS_ENV, default_symbol_dirs as symbol_dirs

SECTIONS = ("report", "poolused", "verifier", "history", "bigpool", "callsites", "all")
HISTORY_RECORDS = 20  # --section history without --address: the newest N (text and csv)
SYMBOLS_HELP = (f"Symbol directory holding ISF files as windows/<pdb>/<GUID>-<age>.json.xz; repeatable. "
                f"Default: ${SYMBOLS_ENV} (a {os.pathsep!r}-separated list) if set, else ./symbols.")


class Failed(Exception):
    """A one-line problem with one dump (already formatted without the path)."""


def error(path, message: str) -> None:
    click.echo(f"dumpscan: {path}: {message}", err=True)


def analyze_one(path: Path, dirs: Sequence[Path], pooltag: Path | None) -> dict:
    """The engine's report of one dump; any failure becomes :class:`Failed` (one line)."""
    from .analysis.engine import analyze_path

    if not path.exists():
        raise Failed("no such file")
    if path.is_dir():
        raise Failed("is a directory, not a dump file")
    try:
        return analyze_path(path, dirs, pooltag)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # one line per bad dump, never a traceback
        raise Failed(one_line_error(exc)) from None


def analyze_many(paths: Iterable[Path], dirs: Sequence[Path], pooltag: Path | None,
                 quiet: bool) -> Iterable[tuple[Path, dict]]:
    """(path, report) for every dump that could be analyzed; errors and report warnings on
    stderr, one line each."""
    for path in paths:
        try:
            report = analyze_one(path, dirs, pooltag)
        except Failed as exc:
            error(path, str(exc))
            continue
        if not quiet:
            for warning in report.get("warnings") or []:
                error(path, f"warning: {' '.join(str(warning).split())}")
        yield path, report


def expand(paths: Sequence[Path]) -> list[Path]:
    """Files as given (missing ones too, to be reported); directories walked for *.dmp."""
    from .analysis.batch import iter_dumps

    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = list(iter_dumps(path))
            if not found:
                error(path, "no *.dmp files in this directory")
            out += found
        else:
            out.append(path)
    return out


def thresholds_from(pairs: Sequence[str], top: int | None = None):
    from .analysis.leaks import Thresholds

    values: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="--threshold")
        key, value = pair.split("=", 1)
        values[key.strip()] = value.strip()
    if top is not None and "top_n" not in values:
        values["top_n"] = str(top)
    try:
        return Thresholds.from_mapping(values)
    except (ValueError, TypeError) as exc:  # one line, exit 2 (a usage error)
        message = one_line_error(exc)
        if message.startswith("unknown threshold"):
            from dataclasses import fields

            message += f" (known: {', '.join(f.name for f in fields(Thresholds))})"
        click.echo(f"dumpscan: --threshold: {message}", err=True)
        sys.exit(2)


def _json(document) -> str:
    """Compact JSON, one document a line: Python's C encoder (used only without
    ``indent``) keeps a million-row report to seconds and no extra gigabytes."""
    return json.dumps(document, separators=(",", ":")) + "\n"


def emit(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=False)
    else:
        try:
            out.write_text(text)
        except OSError as exc:
            click.echo(f"dumpscan: {out}: cannot write: {exc.strerror or exc}", err=True)
            sys.exit(2)


def configure_logging(verbose: int) -> None:
    """Library loggers stay silent (their warnings are in the report) unless -v."""
    root = logging.getLogger()
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("dumpscan: %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
    else:
        root.addHandler(logging.NullHandler())


# --------------------------------------------------------------------------------------
# shared options

def symbols_option(f):
    return click.option("-s", "--symbols", "symbols", multiple=True,
                        type=click.Path(file_okay=False, path_type=Path), help=SYMBOLS_HELP)(f)


def out_option(f):
    return click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
                        help="Write the output to this file instead of stdout.")(f)


def pooltag_option(f):
    return click.option("--pooltag", "pooltag", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="A pooltag.txt ('Tag - driver.sys - description' lines) for tag owners.")(f)


def threshold_option(f):
    return click.option("--threshold", "threshold", multiple=True, metavar="KEY=VALUE",
                        help="Override a suspect threshold (min_bytes, min_outstanding, max_free_ratio, "
                             "call_site_share, driver_share, bigpool_share, growth_min_bytes, "
                             "growth_min_count, top_n, exit_min_bytes, exit_severity); repeatable.")(f)


def quiet_option(f):
    return click.option("-q", "--quiet", is_flag=True,
                        help="Do not print the reports' warnings on stderr (errors still are).")(f)


class OneLineErrors(click.Group):
    """Any unexpected exception becomes one line on stderr and exit status 2 (-v: the
    traceback too)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if ctx.params.get("verbose"):
                raise
            click.echo(f"dumpscan: error: {one_line_error(exc)}", err=True)
            sys.exit(2)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"],
                                                  "max_content_width": 100})
@click.version_option(__version__)
@click.option("-v", "--verbose", count=True, help="Show library log messages on stderr (-vv: debug).")
def main(verbose: int) -> None:
    """Find kernel pool leaks in Windows crash dumps, offline.

    \b
    dumpscan analyze MEMORY.DMP -s SYMBOLS            the leak report
    dumpscan analyze MEMORY.DMP --section poolused    the !poolused table
    dumpscan analyze MEMORY.DMP --section verifier    !verifier 3
    dumpscan analyze MEMORY.DMP --address 0x9ca00000  !verifier 80 ADDR
    dumpscan diff OLD.dmp NEW.dmp                     what grew between two dumps
    dumpscan series T0.dmp T1.dmp T2.dmp              tags growing across dumps
    dumpscan batch ARCHIVE/                           one summary row per dump

    \b
    Exit status: 0 done; 1 --fail-on-suspect and a suspect exceeds the
    thresholds; 2 usage error, or no dump could be analyzed.
    """
    configure_logging(verbose)


# --------------------------------------------------------------------------------------
# synth


@main.command()
@click.argument("names", nargs=-1)
@click.option("--all", "build_all", is_flag=True, help="Build every bundled scenario.")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("testdata/dumps"), show_default=True,
              help="Where NAME.dmp and NAME.truth.json go.")
@click.option("--symbols", "symbol_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("testdata/symbols"), show_default=True,
              help="Where the symbol tables (ISF) go, as windows/<pdb>/<GUID>-<age>.json.xz.")
@click.option("--large", is_flag=True,
              help="Build one large benchmark dump (sparse bitmap dump of a big machine).")
@click.option("--big-entries", type=click.IntRange(0), default=1_000_000, show_default=True,
              help="With --large: big-pool blocks.")
@click.option("--tracked", type=click.IntRange(0), default=100_000, show_default=True,
              help="With --large: verifier-tracked allocations.")
@click.option("--gib", type=click.IntRange(4, 1024), default=16, show_default=True,
              help="With --large: physical memory size in GiB.")
def synth(names: tuple[str, ...], build_all: bool, list_only: bool, out_dir: Path,
          symbol_dir: Path, large: bool, big_entries: int, tracked: int, gib: int) -> None:
    """Write synthetic Windows crash dumps with their ground truth."""
    from .synth.build import build_scenario
    from .synth.scenarios import SCENARIOS, large_scenario

    if large:
        result = build_scenario(large_scenario(big_entries, tracked, gib), out_dir, symbol_dir)
        click.echo(f"{result.dump}  {result.dump.stat().st_size / 2**20:.1f} MiB")
        return
    if list_only:
        for name, scenario in SCENARIOS.items():
            click.echo(f"{name:28} {scenario.description}")
        return
    chosen = list(SCENARIOS) if build_all else list(names)
    if not chosen:
        raise click.UsageError("name a scenario, or give --all (see --list)")
    unknown = [n for n in chosen if n not in SCENARIOS]
    if unknown:
        raise click.UsageError(f"unknown scenario {', '.join(unknown)} (see --list)")
    for name in chosen:
        result = build_scenario(SCENARIOS[name], out_dir, symbol_dir)
        size = result.dump.stat().st_size
        click.echo(f"{result.dump}  {size / 2**20:.1f} MiB  (truth: {result.truth.name})")


# --------------------------------------------------------------------------------------
# analyze


def address_type(value):
    from .report.select import parse_address

    if value is None or isinstance(value, int):
        return value
    try:
        return parse_address(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--address") from None


@main.command()
@click.argument("dumps", nargs=-1, required=True, type=click.Path(path_type=Path))
@symbols_option
@click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True,
              help="json: the complete dumpscan.report/1 document with its 'leaks' section (an array "
                   "for several dumps; the view options below shape text and csv only).")
@click.option("--section", type=click.Choice(SECTIONS), default=None,
              help="What to show: report (the leak report; default), poolused (!poolused), verifier "
                   "(!verifier 3), history (!verifier 80; the default with --address), bigpool, "
                   "callsites, all (text only).")
@click.option("--tag", "tags", multiple=True, metavar="PATTERN",
              help="Only tags matching this !poolused-style pattern (Lea*, ?eak); repeatable.")
@click.option("--driver", "drivers", multiple=True, metavar="NAME",
              help="Only tags/allocations/drivers of this driver (myfault, myfault.sys, my*); repeatable.")
@click.option("--min-bytes", type=click.IntRange(0), default=0, help="Hide rows with fewer bytes.")
@click.option("--sort", type=click.Choice(SORTS), default="total", show_default=True,
              help="Order of tag tables: nonpaged/paged/total bytes, outstanding allocs, or tag name.")
@click.option("--top", type=click.IntRange(1), default=None,
              help="Show only the first N rows of each table (also the report's top_n).")
@click.option("--address", callback=lambda ctx, param, value: address_type(value), metavar="ADDR",
              help="The allocate/free history of the block at ADDR (like !verifier 80 ADDR): "
                   "0x9ca00000, fffff800`016530fc.")
@pooltag_option
@threshold_option
@click.option("--fail-on-suspect", is_flag=True,
              help="Exit with status 1 when a suspect exceeds the thresholds (for scripts and CI).")
@out_option
@quiet_option
def analyze(dumps: tuple[Path, ...], symbols: tuple[Path, ...], output_format: str,
            section: str | None, tags: tuple[str, ...], drivers: tuple[str, ...], min_bytes: int,
            sort: str, top: int | None, address: int | None, pooltag: Path | None,
            threshold: tuple[str, ...], fail_on_suspect: bool, out: Path | None, quiet: bool) -> None:
    """Analyze crash dumps for pool leaks.

    DUMP may be a directory (its *.dmp files, recursively). Prints the leak report (suspects
    with their evidence, top tags, call sites, big pool, verified drivers), another
    --section, or the dumpscan.report/1 JSON document.
    """
    from .analysis.leaks import analyze as analyze_leaks

    thresholds = thresholds_from(threshold, top)
    if section is None:
        section = "history" if address is not None else "report"
    if output_format == "csv" and section == "all":
        raise click.UsageError("--format csv takes one --section (not all)")
    dirs = symbol_dirs(symbols)
    paths = expand(list(dumps))
    view = dict(tags=list(tags), drivers=list(drivers), min_bytes=min_bytes, sort=sort, top=top,
                address=address)
    outputs: list[str] = []
    documents: list[dict] = []
    statuses: list[int] = []
    for path, report in analyze_many(paths, dirs, pooltag, quiet):
        report["leaks"] = leaks = analyze_leaks(report, thresholds)
        statuses.append(int(leaks.get("exit_status") or 0))
        if not quiet:
            for warning in leaks.get("warnings") or []:
                error(path, f"warning: {warning}")
        try:
            if output_format == "json":
                documents.append(report)
            elif output_format == "csv":
                outputs.append(render_csv_section(report, section, view, path if len(paths) > 1 else None,
                                                  first=not outputs))
            else:
                outputs.append(render_text_section(report, section, view, path,
                                                   many=len(paths) > 1 or section == "all"))
        except Exception as exc:  # a report the views cannot show: one line, the others go on
            error(path, f"cannot render the {section} section: {type(exc).__name__}: {exc}")
            statuses.pop()
    if not statuses:  # every dump failed (each said why), or a directory held none
        sys.exit(2)
    if output_format == "json":
        text = _json(documents[0] if len(documents) == 1 and len(paths) == 1 else documents)
    elif output_format == "csv":
        text = "".join(outputs)
    else:
        text = "\n".join(outputs)
    emit(text, out)
    if fail_on_suspect and any(statuses):
        sys.exit(1)


def render_text_section(report: dict, section: str, view: dict, path: Path, many: bool) -> str:
    from .report import render_text as rt
    from .report import select as sel

    parts: list[str] = []
    wanted = ["report", "poolused", "verifier", "history", "callsites", "bigpool"] if section == "all" \
        else [section]
    for name in wanted:
        if name == "report":
            leaks = sel.select_leaks(report, report["leaks"], tags=view["tags"], drivers=view["drivers"],
                                     min_bytes=view["min_bytes"], sort=view["sort"], top=view["top"])
            leaks["suspects"] = [dict(s, drivers=sel.owner_names(s["drivers"])) if "drivers" in s else s
                                 for s in leaks["suspects"]]
            parts.append(rt.render_leak_report(report, leaks, top=view["top"]))
            continue
        title = {"poolused": "!poolused", "verifier": "!verifier 3",
                 "history": "!verifier 80" + (f" {view['address']:#x}" if view["address"] is not None else ""),
                 "callsites": "call sites", "bigpool": "big pool"}[name]
        if many:
            heading = f"{path}: {title}"
            parts.append(f"{heading}\n{'=' * len(heading)}\n")
        if name == "poolused":
            rows = sel.select_tags([r for r in sel.tag_rows(report) if r["allocs"] or r["frees"] or r["bytes"]],
                                   tags=view["tags"], drivers=view["drivers"], min_bytes=view["min_bytes"],
                                   sort=view["sort"], top=view["top"])
            parts.append(rt.render_poolused(rows, sort=view["sort"], tags=view["tags"], drivers=view["drivers"],
                                            min_bytes=view["min_bytes"], top=view["top"]))
        elif name == "verifier":
            selected = sel.select_verifier(report, tags=view["tags"], drivers=view["drivers"],
                                           min_bytes=view["min_bytes"])
            parts.append(rt.render_verifier(dict(report, verifier=selected)))
        elif name == "history":
            count = None if view["address"] is not None else (view["top"] or HISTORY_RECORDS)
            address = view["address"]
            if address is not None:
                from .analysis.leaks import machine

                address = sel.canonical_address(address, machine(report))
            text = rt.render_pool_history(report, address, count=count)
            parts.append(text)
        elif name == "callsites":
            leaks = sel.select_leaks(report, report["leaks"], tags=view["tags"], drivers=view["drivers"],
                                     min_bytes=view["min_bytes"], sort=view["sort"], top=view["top"])
            parts.append(rt.render_call_sites(report, leaks["call_sites"]))
        elif name == "bigpool":
            parts.append(rt.render_bigpool(report, tags=view["tags"], drivers=view["drivers"],
                                           min_bytes=view["min_bytes"], sort=view["sort"], top=view["top"]))
    return "\n".join(parts)


def render_csv_section(report: dict, section: str, view: dict, path: Path | None, first: bool) -> str:
    from .analysis.leaks import display_tag
    from .report import render_csv as rc
    from .report import select as sel

    def hexa(value):
        return f"{value:#x}" if isinstance(value, int) else ""

    if section == "report":
        leaks = sel.select_leaks(report, report["leaks"], tags=view["tags"], drivers=view["drivers"],
                                 min_bytes=view["min_bytes"], sort=view["sort"], top=view["top"])
        text = rc.suspects_csv([dict(s, drivers=sel.owner_names(s.get("drivers"))) for s in leaks["suspects"]])
    elif section == "poolused":
        rows = sel.select_tags([r for r in sel.tag_rows(report) if r["allocs"] or r["frees"] or r["bytes"]],
                               tags=view["tags"], drivers=view["drivers"], min_bytes=view["min_bytes"],
                               sort=view["sort"], top=view["top"])
        text = rc.tags_csv(report, rows)
    elif section == "verifier":
        selected = sel.select_verifier(report, tags=view["tags"], drivers=view["drivers"],
                                       min_bytes=view["min_bytes"])
        text = rc.allocations_csv(dict(report, verifier=selected))
    elif section == "history":
        count = None if view["address"] is not None else (view["top"] or HISTORY_RECORDS)
        records = sel.history(report, view["address"], count)
        text = rc._csv(["index", "kind", "address", "size", "thread", "frames"],
                       ([r.get("index"), r.get("kind"), hexa(r.get("address")), r.get("size"),
                         hexa(r.get("thread")),
                         ";".join(f"{f:#x} {s}" if s else f"{f:#x}" for f, s in
                                  zip(r.get("stack") or [], (r.get("symbols") or []) + [None] * 64))]
                        for r in records))
    elif section == "callsites":
        leaks = sel.select_leaks(report, report["leaks"], tags=view["tags"], drivers=view["drivers"],
                                 min_bytes=view["min_bytes"], sort=view["sort"], top=view["top"])
        text = rc.call_sites_csv(report, leaks["call_sites"])
    else:  # bigpool
        owners = {r["tag"]: r["drivers"] for r in sel.tag_rows(report)}
        blocks = sel.select_bigpool(report, tags=view["tags"], drivers=view["drivers"],
                                    min_bytes=view["min_bytes"])
        if view["top"]:
            blocks = sorted(blocks, key=lambda b: -b.get("bytes", 0))[:view["top"]]
        text = rc._csv(["address", "tag", "key", "bytes", "pool_type", "drivers"],
                       ([hexa(b.get("va")), display_tag(b.get("tag", "")), hexa(b.get("key")), b.get("bytes"),
                         b.get("pool_type"), ";".join(owners.get(b.get("tag", ""), []))] for b in blocks))
    if path is None:
        return text
    return _prefix_csv(text, "dump", str(path), header=first)


def _prefix_csv(text: str, column: str, value: str, header: bool) -> str:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header and rows:
        writer.writerow([column] + rows[0])
    for row in rows[1:]:
        writer.writerow([value] + row)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# diff, series


@main.command()
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@symbols_option
@click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="Rows per table (text).")
@pooltag_option
@out_option
@quiet_option
def diff(old: Path, new: Path, symbols: tuple[Path, ...], output_format: str, top: int,
         pooltag: Path | None, out: Path | None, quiet: bool) -> None:
    """What changed from OLD.dmp to NEW.dmp (one machine at two times): tags that grew
    (largest growth first, with rates per hour of uptime), new and vanished big-pool blocks,
    verified drivers' allocations."""
    from .analysis.diff import diff_reports
    from .report.render_csv import diff_csv
    from .report.render_text import render_diff

    # A list, not a dict keyed by path: ``diff A.dmp A.dmp`` is two reports of one file.
    analyzed = list(analyze_many([old, new], symbol_dirs(symbols), pooltag, quiet))
    if len(analyzed) < 2:  # analyze_many said why on stderr, one line per dump
        sys.exit(2)
    (_, older), (_, newer) = analyzed
    result = diff_reports(older, newer, labels=(str(old), str(new)))
    if output_format == "json":
        text = _json(result)
    elif output_format == "csv":
        text = diff_csv(result)
    else:
        text = render_diff(result, top=top)
    emit(text, out)


@main.command()
@click.argument("dumps", nargs=-1, required=True, type=click.Path(path_type=Path))
@symbols_option
@click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="Rows per table (text).")
@pooltag_option
@threshold_option
@out_option
@quiet_option
def series(dumps: tuple[Path, ...], symbols: tuple[Path, ...], output_format: str, top: int,
           pooltag: Path | None, threshold: tuple[str, ...], out: Path | None, quiet: bool) -> None:
    """Tags growing across two or more dumps of one machine (ordered by crash time, else
    uptime, else as given): outstanding allocations and bytes per dump, growth, rate."""
    from .analysis.diff import series as run_series
    from .report.render_csv import _csv
    from .report.render_text import render_series

    thresholds = thresholds_from(threshold)
    analyzed = list(analyze_many(expand(list(dumps)), symbol_dirs(symbols), pooltag, quiet))
    if len(analyzed) < 2:
        click.echo("dumpscan: series: needs at least two dumps that can be analyzed", err=True)
        sys.exit(2)
    result = run_series([r for _, r in analyzed], labels=[str(p) for p, _ in analyzed],
                        thresholds=thresholds)
    if output_format == "json":
        text = _json(result)
    elif output_format == "csv":
        points = len(result["points"])
        text = _csv(["tag", "growth_bytes", "growth_count", "bytes_per_hour", "strict"]
                    + [f"bytes_t{i}" for i in range(points)] + [f"outstanding_t{i}" for i in range(points)],
                    ([t["tag"], t["growth_bytes"], t["growth_count"],
                      "" if t.get("bytes_per_hour") is None else f"{t['bytes_per_hour']:.1f}",
                      "yes" if t.get("strict") else "no", *t["bytes"], *t["outstanding"]]
                     for t in result["tags"]))
    else:
        text = render_series(result, top=top)
    emit(text, out)


# --------------------------------------------------------------------------------------
# batch


def batch_analyze(dirs: Sequence[str], pooltag: str | None, path: Path) -> dict:
    """One dump of a batch (module level: picklable for the worker processes)."""
    return analyze_one(Path(path), [Path(d) for d in dirs], Path(pooltag) if pooltag else None)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@symbols_option
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Worker processes (default: one per CPU; 0 = analyze in this process).")
@click.option("--format", "output_format", type=click.Choice(["text", "csv", "json"]), default="text",
              show_default=True)
@pooltag_option
@threshold_option
@click.option("--fail-on-suspect", is_flag=True,
              help="Exit with status 1 when a dump has a suspect over the thresholds.")
@out_option
def batch(paths: tuple[Path, ...], symbols: tuple[Path, ...], workers: int | None, output_format: str,
          pooltag: Path | None, threshold: tuple[str, ...], fail_on_suspect: bool, out: Path | None) -> None:
    """Scan an archive: one summary row per dump (directories are walked for *.dmp).

    A dump that cannot be analyzed becomes an 'error' row (and one line on stderr); the
    others go on.
    """
    from .analysis.batch import scan_archive
    from .report.render_csv import batch_csv
    from .report.render_text import render_batch

    thresholds = thresholds_from(threshold)
    todo = expand(list(paths))
    if not todo:
        sys.exit(2)
    analyze = functools.partial(batch_analyze, [str(d) for d in symbol_dirs(symbols)],
                                str(pooltag) if pooltag else None)
    rows = []
    for row in scan_archive(todo, analyze, workers, thresholds=thresholds):
        if row.status != "ok":  # the row's error is already one line (Failed: no type prefix)
            error(row.dump, row.error or "error")
        rows.append(row)
    if output_format == "json":
        text = _json([r.as_dict() for r in rows])
    elif output_format == "csv":
        text = batch_csv(rows)
    else:
        text = render_batch(rows)
    emit(text, out)
    if not any(r.status == "ok" for r in rows):
        sys.exit(2)
    if fail_on_suspect and any(r.exit_status for r in rows):
        sys.exit(1)


for _command in ARCHIVE_COMMANDS:  # scan, query, export (dumpscan/cli_archive.py)
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
