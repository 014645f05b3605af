"""The ``dumpscan`` command line: a thin layer over ``dumpscan.analysis`` (the reports)
and ``dumpscan.views`` (what each table shows); its options are those of
``dumpscan.views.options``, made into click options by :func:`view_option`.

Exit status (``EXIT_*``): 0 = done; 1 = ``--fail-on-suspect`` and a suspect exceeds the
thresholds; 2 = usage error, or no dump could be analyzed; 3 = some dumps could not be
analyzed (the others were; each failure is one line on stderr). A failure outranks a
finding: 2 before 3 before 1. Every problem with a dump is one line on stderr,
``dumpscan: PATH: what is wrong``; never a traceback.

Imports are lazy: ``dumpscan --help`` loads neither numpy nor Volatility.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NoReturn

import click

from . import __version__
from .views import FILTERS, OPTIONS, VIEWS, OptionError, Query

EXIT_OK, EXIT_SUSPECT, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
EXIT_HELP = ("Exit status: 0 done; 1 --fail-on-suspect and a suspect exceeds the thresholds; "
             "2 usage error, or no dump could be analyzed; 3 some dumps could not be analyzed "
             "(the others were).")
SECTION_ALIASES = {"poolused": "pooltags", "poolhistory": "history", "poolleak": "suspects"}  # plugin names
SECTIONS = ("report", *VIEWS, *SECTION_ALIASES, "all")
SYMBOLS_ENV = "DUMPSCAN_SYMBOLS"
SYMBOLS_HELP = (f"Symbol directory holding ISF files as windows/<pdb>/<GUID>-<age>.json.xz; repeatable. "
                f"Default: ${SYMBOLS_ENV} (a {os.pathsep!r}-separated list) if set, else ./symbols.")


class Failed(Exception):
    """A one-line problem with one dump (already formatted without the path)."""


def one_line_error(exc: BaseException) -> str:
    from .analysis.batch import one_line_error as one_line

    return one_line(exc)


def symbol_dirs(given: Sequence[Path]) -> list[Path]:
    """-s directories, else $DUMPSCAN_SYMBOLS (os.pathsep-separated), else ./symbols."""
    if given:
        return [Path(p) for p in given]
    env = os.environ.get(SYMBOLS_ENV, "")
    dirs = [Path(p) for p in env.split(os.pathsep) if p.strip()]
    return dirs or [Path("symbols")]


def error(path, message: str) -> None:
    click.echo(f"dumpscan: {path}: {message}", err=True)


def analyze_one(path: Path, dirs: Sequence[Path], pooltag: Path | None, dtb: int | None = None,
                kernel_base: int | None = None) -> dict:
    """The engine's report of one dump (``dtb``/``kernel_base``: overrides of the header's);
    any failure becomes :class:`Failed` (one line)."""
    from .analysis.engine import analyze_path

    if not path.exists():
        raise Failed("no such file")
    if path.is_dir():
        raise Failed("is a directory, not a dump file")
    try:
        return analyze_path(path, dirs, pooltag, dtb=dtb, kernel_base=kernel_base)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # one line per bad dump, never a traceback
        raise Failed(one_line_error(exc)) from None


class Run:
    """The dumps of one command: analyzes them (with progress on a terminal), reports each
    failure and warning on stderr, and gives the exit status they call for."""

    def __init__(self, paths: Sequence[Path], dirs: Sequence[Path], pooltag: Path | None,
                 quiet: bool, dtb: int | None = None, kernel_base: int | None = None) -> None:
        self.paths, self.dirs, self.pooltag, self.quiet = list(paths), dirs, pooltag, quiet
        self.dtb, self.kernel_base = dtb, kernel_base
        self.failed = 0
        self.analyzed = 0

    def reports(self) -> Iterable[tuple[Path, dict]]:
        """(path, report) for every dump that could be analyzed."""
        from .progress import progress

        for path in progress(self.paths, "analyzing", quiet=self.quiet):
            try:
                report = analyze_one(path, self.dirs, self.pooltag, self.dtb, self.kernel_base)
            except Failed as exc:
                error(path, str(exc))
                self.failed += 1
                continue
            self.analyzed += 1
            self.warn(path, report.get("warnings"))
            yield path, report

    def warn(self, path: Path, warnings) -> None:
        if not self.quiet:
            for warning in warnings or []:
                error(path, f"warning: {' '.join(str(warning).split())}")

    def status(self, suspect: bool = False) -> int:
        """2 nothing analyzed, 3 some failed, 1 a suspect over the thresholds (when asked), 0."""
        if not self.analyzed:
            return EXIT_USAGE
        if self.failed:
            return EXIT_PARTIAL
        return EXIT_SUSPECT if suspect else EXIT_OK


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


def query_from(values: dict, names: Iterable[str] | None = None) -> Query:
    """The view query of the command's options; a bad value is a usage error (one line, 2)."""
    try:
        return Query.from_values(values, names)
    except OptionError as exc:
        usage_error(str(exc))


def thresholds_from(query: Query):
    try:
        return query.thresholds()
    except OptionError as exc:
        usage_error(str(exc))


def usage_error(message: str) -> NoReturn:
    """One line on stderr, exit status 2."""
    click.echo(f"dumpscan: {message}", err=True)
    sys.exit(EXIT_USAGE)


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
            sys.exit(EXIT_USAGE)


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
# options: dumpscan.views.options as click options


def _parse_with(name: str):
    def callback(ctx, param, value):
        try:
            return OPTIONS[name].parse(value)
        except OptionError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[-1]) from None

    return callback


def view_option(name: str):
    """The click option of ``dumpscan.views.options.OPTIONS[name]``: same name, help and
    default as the Volatility requirement made of it (repeatable where Volatility takes
    a list)."""
    option = OPTIONS[name]
    kwargs: dict = {"help": option.help, "metavar": option.metavar}
    if option.kind in ("patterns", "pairs"):
        kwargs.update(multiple=True)
    elif option.kind == "int":
        kwargs.update(type=click.IntRange(option.minimum), default=option.default,
                      show_default=option.default is not None)
    elif option.kind == "choice":
        kwargs.update(type=click.Choice(option.choices), default=option.default)
    elif option.kind == "address":
        kwargs.update(callback=_parse_with(name))
    elif option.kind == "flag":
        kwargs = {"help": option.help, "is_flag": True}
    elif option.kind == "path":
        kwargs.update(type=click.Path(exists=True, dir_okay=False, path_type=Path))
    return click.option(option.flag, name, **kwargs)


def view_options(*names: str):
    def decorate(f):
        for name in reversed(names):
            f = view_option(name)(f)
        return f

    return decorate


def symbols_option(f):
    return click.option("-s", "--symbols", "symbols", multiple=True,
                        type=click.Path(file_okay=False, path_type=Path), help=SYMBOLS_HELP)(f)


def out_option(f):
    return click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
                        help="Write the output to this file instead of stdout.")(f)


def quiet_option(f):
    return click.option("-q", "--quiet", is_flag=True,
                        help="No progress, and the reports' warnings not on stderr (errors still are).")(f)


def fail_option(f):
    return click.option("--fail-on-suspect", is_flag=True,
                        help="Exit with status 1 when a suspect exceeds the thresholds (for scripts and CI).")(f)


def format_option(f):
    return click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
                        show_default=True)(f)


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
            sys.exit(EXIT_USAGE)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"],
                                                  "max_content_width": 100},
             epilog=EXIT_HELP)
@click.version_option(__version__)
@click.option("-v", "--verbose", count=True, help="Show library log messages on stderr (-vv: debug).")
def main(verbose: int) -> None:
    """Find kernel pool leaks in Windows crash dumps, offline.

    \b
    dumpscan analyze MEMORY.DMP -s SYMBOLS            the leak report
    dumpscan analyze MEMORY.DMP --section pooltags    the !poolused table
    dumpscan analyze MEMORY.DMP --section verifier    !verifier 3
    dumpscan analyze MEMORY.DMP --address 0x9ca00000  !verifier 80 ADDR
    dumpscan diff OLD.dmp NEW.dmp                     what grew between two dumps
    dumpscan series T0.dmp T1.dmp T2.dmp              tags growing across dumps
    dumpscan batch ARCHIVE/                           one summary row per dump
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
@click.option("--small-blocks", type=click.IntRange(0), default=0, show_default=True,
              help="With --large: more small (LFH) pool blocks, made in bulk.")
def synth(names: tuple[str, ...], build_all: bool, list_only: bool, out_dir: Path,
          symbol_dir: Path, large: bool, big_entries: int, tracked: int, gib: int,
          small_blocks: int) -> None:
    """Write synthetic Windows crash dumps with their ground truth."""
    from .synth.build import build_scenario
    from .synth.scenarios import SCENARIOS, large_scenario

    if large:
        result = build_scenario(large_scenario(big_entries, tracked, gib, small_blocks), out_dir,
                                symbol_dir)
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

@main.command(epilog=EXIT_HELP)
@click.argument("dumps", nargs=-1, required=True, type=click.Path(path_type=Path))
@symbols_option
@click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True,
              help="json: without --section, the complete dumpscan.report/1 document with its 'leaks' "
                   "section (an array for several dumps); with --section, that view's rows.")
@click.option("--section", type=click.Choice(SECTIONS), default=None,
              help="What to show: report (the leak report; default; in CSV its suspects), "
                   + ", ".join(f"{v.name} ({v.title})" if v.title != v.name else v.name for v in VIEWS.values())
                   + ", all (text only); aliases: "
                   + ", ".join(f"{a} = {v}" for a, v in SECTION_ALIASES.items())
                   + ". --address alone means history.")
@view_options(*FILTERS, "pooltag", "dtb", "kernel_base")
@fail_option
@out_option
@quiet_option
def analyze(dumps: tuple[Path, ...], symbols: tuple[Path, ...], output_format: str, section: str | None,
            pooltag: Path | None, dtb: int | None, kernel_base: int | None, fail_on_suspect: bool,
            out: Path | None, quiet: bool, **filters) -> None:
    """Analyze crash dumps for pool leaks.

    DUMP may be a directory (its *.dmp files, recursively). Prints the leak report (suspects
    with their evidence, top tags, call sites, big pool, verified drivers), one view
    (--section), or the dumpscan.report/1 JSON document.
    """
    from .analysis.leaks import analyze as analyze_leaks

    query = query_from(filters)
    thresholds = thresholds_from(query)
    if section is None:
        section = "history" if query.address is not None else "report"
    section = SECTION_ALIASES.get(section, section)
    if output_format != "text" and section == "all":
        raise click.UsageError(f"--format {output_format} takes one --section (not all)")
    paths = expand(list(dumps))
    run = Run(paths, symbol_dirs(symbols), pooltag, quiet, dtb, kernel_base)
    frontend = _frontend(output_format, section)
    many = len(paths) > 1
    suspect, shown = False, 0
    for path, report in run.reports():
        report["leaks"] = leaks = analyze_leaks(report, thresholds)
        run.warn(path, leaks.get("warnings"))
        try:
            _render(frontend, report, section, query, str(path), many)
        except Exception as exc:  # a report the views cannot show: one line, the others go on
            error(path, f"cannot render the {section} section: {type(exc).__name__}: {exc}")
            run.failed += 1
            continue
        shown += 1
        suspect |= bool(leaks.get("exit_status"))
    if not shown:  # every dump failed (each said why), or a directory held none
        sys.exit(EXIT_USAGE)
    emit(frontend.finish(), out)
    sys.exit(run.status(fail_on_suspect and suspect))


class _Documents:
    """--format json without a view: the report documents (one, or an array)."""

    def __init__(self) -> None:
        self.documents: list[dict] = []
        self.single = True

    def add(self, report: dict, many: bool) -> None:
        self.documents.append(report)
        self.single = self.single and not many

    def finish(self) -> str:
        return _json(self.documents[0] if self.single and len(self.documents) == 1 else self.documents)


class _Texts:
    """Text output of leak reports and of 'all' (several views of each dump)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def finish(self) -> str:
        return "\n".join(self.parts)


def _frontend(output_format: str, section: str):
    if output_format == "json":
        if section == "report":
            return _Documents()
        from .report.render_json import JsonFrontend

        return JsonFrontend()
    if output_format == "csv":
        from .report.render_csv import CsvFrontend

        return CsvFrontend()
    if section in ("report", "all"):
        return _Texts()
    from .report.render_text import TextFrontend

    return TextFrontend()


def _render(frontend, report: dict, section: str, query: Query, label: str, many: bool) -> None:
    """Add one dump's ``section`` to the front end."""
    if isinstance(frontend, _Documents):
        frontend.add(report, many)
        return
    if isinstance(frontend, _Texts):
        from .report.render_text import TextFrontend, render_leak_report

        parts = [render_leak_report(report, query)]
        if section == "all":
            views = TextFrontend()
            for view in VIEWS.values():
                views.add(view.table(report, query), label)
            parts.append(views.finish())
        frontend.parts.append("\n".join(parts))
        return
    view = VIEWS["suspects" if section == "report" else section]
    frontend.add(view.table(report, query), label if many else None)


# --------------------------------------------------------------------------------------
# diff, series


@main.command(epilog=EXIT_HELP)
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@symbols_option
@format_option
@view_options("top", "pooltag", "threshold", "dtb", "kernel_base")
@fail_option
@out_option
@quiet_option
def diff(old: Path, new: Path, symbols: tuple[Path, ...], output_format: str, top: int | None,
         pooltag: Path | None, threshold: tuple, dtb: int | None, kernel_base: int | None,
         fail_on_suspect: bool, out: Path | None, quiet: bool) -> None:
    """What changed from OLD.dmp to NEW.dmp (one machine at two times): tags that grew
    (largest growth first, with rates per hour of uptime), new and vanished big-pool blocks,
    verified drivers' allocations, growth suspects. Warns when the two dumps cannot be of
    one machine."""
    from .analysis.diff import diff_reports
    from .report.render_csv import diff_csv
    from .report.render_text import render_diff

    thresholds = thresholds_from(query_from({"threshold": threshold}))
    run = Run([old, new], symbol_dirs(symbols), pooltag, quiet, dtb, kernel_base)
    # A list, not a dict keyed by path: ``diff A.dmp A.dmp`` is two reports of one file.
    analyzed = list(run.reports())
    if len(analyzed) < 2:  # the run said why on stderr, one line per dump
        sys.exit(EXIT_USAGE)
    (_, older), (_, newer) = analyzed
    result = diff_reports(older, newer, labels=(str(old), str(new)), thresholds=thresholds)
    run.warn(Path(f"{old} -> {new}"), result.get("warnings"))
    if output_format == "json":
        text = _json(result)
    elif output_format == "csv":
        text = diff_csv(result)
    else:
        text = render_diff(result, top=top or thresholds.top_n)
    emit(text, out)
    sys.exit(run.status(fail_on_suspect and bool(result.get("exit_status"))))


@main.command(epilog=EXIT_HELP)
@click.argument("dumps", nargs=-1, required=True, type=click.Path(path_type=Path))
@symbols_option
@format_option
@view_options("top", "pooltag", "threshold", "dtb", "kernel_base")
@fail_option
@out_option
@quiet_option
def series(dumps: tuple[Path, ...], symbols: tuple[Path, ...], output_format: str, top: int | None,
           pooltag: Path | None, threshold: tuple, dtb: int | None, kernel_base: int | None,
           fail_on_suspect: bool, out: Path | None, quiet: bool) -> None:
    """Tags growing across two or more dumps of one machine (ordered by crash time, else
    uptime, else as given): outstanding allocations and bytes per dump, growth, rate."""
    from .analysis.diff import series as run_series
    from .report.render_csv import series_csv
    from .report.render_text import render_series

    thresholds = thresholds_from(query_from({"threshold": threshold}))
    run = Run(expand(list(dumps)), symbol_dirs(symbols), pooltag, quiet, dtb, kernel_base)
    analyzed = list(run.reports())
    if len(analyzed) < 2:
        click.echo("dumpscan: series: needs at least two dumps that can be analyzed", err=True)
        sys.exit(EXIT_USAGE)
    result = run_series([r for _, r in analyzed], labels=[str(p) for p, _ in analyzed],
                        thresholds=thresholds)
    if output_format == "json":
        text = _json(result)
    elif output_format == "csv":
        text = series_csv(result)
    else:
        text = render_series(result, top=top or thresholds.top_n)
    emit(text, out)
    sys.exit(run.status(fail_on_suspect and bool(result.get("exit_status"))))


# --------------------------------------------------------------------------------------
# batch


def batch_analyze(dirs: Sequence[str], pooltag: str | None, path: Path) -> dict:
    """One dump of a batch (module level: picklable for the worker processes)."""
    return analyze_one(Path(path), [Path(d) for d in dirs], Path(pooltag) if pooltag else None)


@main.command(epilog=EXIT_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@symbols_option
@click.option("--workers", type=click.IntRange(0), default=None,
              help="Worker processes (default: one per CPU; 0 = analyze in this process).")
@format_option
@view_options("pooltag", "threshold")
@fail_option
@out_option
@quiet_option
def batch(paths: tuple[Path, ...], symbols: tuple[Path, ...], workers: int | None, output_format: str,
          pooltag: Path | None, threshold: tuple, fail_on_suspect: bool, out: Path | None,
          quiet: bool) -> None:
    """Scan an archive: one summary row per dump (directories are walked for *.dmp).

    A dump that cannot be analyzed becomes an 'error' row (and one line on stderr); the
    others go on.
    """
    from .analysis.batch import scan_archive
    from .progress import progress
    from .report.render_csv import batch_csv
    from .report.render_text import render_batch

    thresholds = thresholds_from(query_from({"threshold": threshold}))
    todo = expand(list(paths))
    if not todo:
        sys.exit(EXIT_USAGE)
    analyze = functools.partial(batch_analyze, [str(d) for d in symbol_dirs(symbols)],
                                str(pooltag) if pooltag else None)
    rows = []
    for row in progress(scan_archive(todo, analyze, workers, thresholds=thresholds), "scanning",
                        total=len(todo), quiet=quiet):
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
    ok = sum(1 for r in rows if r.status == "ok")
    if not ok:
        sys.exit(EXIT_USAGE)
    if ok < len(rows):
        sys.exit(EXIT_PARTIAL)
    if fail_on_suspect and any(r.exit_status for r in rows):
        sys.exit(EXIT_SUSPECT)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
