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
SYMBOLS_HELP = (f"Symbol directory holding ISF files as windows/<pdb>/<GUID>-<age>.json.xz (or zip packs "
                f"such as Volatility's windows.zip), or a zip pack itself; repeatable. "
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
    from .inputs import display_path

    click.echo(f"dumpscan: {display_path(path)}: {message}", err=True)


def analyze_one(path: Path, dirs: Sequence[Path], pooltag: Path | None, dtb: int | None = None,
                kernel_base: int | None = None) -> dict:
    """The engine's report of one dump (``dtb``/``kernel_base``: overrides of the header's);
    any failure becomes :class:`Failed` (one line)."""
    from .analysis.engine import analyze_path
    from .inputs import input_problem

    problem = input_problem(path)  # a FIFO would block the open forever
    if problem:
        raise Failed(problem)
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
                 quiet: bool, dtb: int | None = None, kernel_base: int | None = None,
                 timeout: float | None = None) -> None:
        """``timeout``: each dump is analyzed in a worker process, stopped after that many
        seconds (``analysis.batch.run_isolated``)."""
        self.paths, self.dirs, self.pooltag, self.quiet = list(paths), dirs, pooltag, quiet
        self.dtb, self.kernel_base, self.timeout = dtb, kernel_base, timeout
        self.failed = 0
        self.analyzed = 0

    def _analyze(self, path: Path, problem: str | None, outcomes) -> dict:
        if problem:
            raise Failed(problem)
        if outcomes is None:
            return analyze_one(path, self.dirs, self.pooltag, self.dtb, self.kernel_base)
        _, outcome = next(outcomes)
        if not outcome.ok:
            raise Failed(outcome.error)
        return outcome.value

    def reports(self) -> Iterable[tuple[Path, dict]]:
        """(path, report) for every dump that could be analyzed."""
        from .analysis.batch import run_isolated
        from .inputs import input_problem
        from .progress import track

        checked = [(path, input_problem(path)) for path in self.paths]  # before any clock starts
        calls = [(path, self.dirs, self.pooltag, self.dtb, self.kernel_base)
                 for path, problem in checked if not problem]
        outcomes = run_isolated(analyze_one, calls, 1, self.timeout) if self.timeout is not None else None
        for path, problem in track(checked, "analyzing", quiet=self.quiet):
            try:
                report = self._analyze(path, problem, outcomes)
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


def symbol_locations(ctx: click.Context, param: click.Parameter,
                     values: Sequence[Path]) -> tuple[Path, ...]:
    """-s values: directories (existing or not) or zip symbol packs, never another file."""
    from .symbols.sources import is_zip_pack

    for value in values:
        if value.is_file() and not is_zip_pack(value):
            raise click.BadParameter(f"{str(value)!r} is a file, not a symbol directory or a zip "
                                     "symbol pack", ctx=ctx, param=param)
    return tuple(values)


def symbols_option(f):
    return click.option("-s", "--symbols", "symbols", multiple=True, callback=symbol_locations,
                        type=click.Path(path_type=Path), help=SYMBOLS_HELP)(f)


def out_option(f):
    return click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path),
                        help="Write the output to this file instead of stdout.")(f)


def timeout_option(f):
    return click.option("--timeout", "timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                        metavar="SECONDS",
                        help="Stop analysing a dump after this many seconds (each dump then runs in a "
                             "worker process): it becomes a one-line error and the others go on.")(f)


def quiet_option(f):
    return click.option("-q", "--quiet", is_flag=True,
                        help="No progress, and the reports' warnings not on stderr (errors still are).")(f)


def fail_option(f):
    return click.option("--fail-on-suspect", is_flag=True,
                        help="Exit with status 1 when a suspect exceeds the thresholds (for scripts and CI).")(f)


def format_option(f):
    return click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
                        show_default=True)(f)


def page_format_option(f):
    """--format with html: a self-contained page (diff, series)."""
    return click.option("--format", "output_format", type=click.Choice(["text", "json", "csv", "html"]),
                        default="text", show_default=True,
                        help="html: one self-contained page with charts and tables (give -o FILE).")(f)


class OneLineErrors(click.Group):
    """Any unexpected exception becomes one line on stderr and exit status 2 (-v: the
    traceback too)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # stdout's reader went away (`dumpscan ... | head`): stop quietly with the status
            # of a command ended by SIGPIPE; stdout goes to devnull so that Python's final
            # flush cannot fail again (Python docs, signal module, "Note on SIGPIPE")
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(128 + 13)
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
    dumpscan symbols MEMORY.DMP                       the PDBs it needs, their tables found or not
    dumpscan vol -f MEMORY.DMP windows.poolleak       Volatility3 with dumpscan's plugins
    """
    configure_logging(verbose)


# --------------------------------------------------------------------------------------
# synth


@main.command()
@click.argument("names", nargs=-1)
@click.option("--all", "build_all", is_flag=True, help="Build every bundled scenario.")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where NAME.dmp and NAME.truth.json go. Default: testdata/dumps.")
@click.option("--symbols-out", "symbol_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the symbol tables (ISF) go, as windows/<pdb>/<GUID>-<age>.json.xz. "
                   "Default: OUT/symbols with --out, else testdata/symbols.")
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
@click.option("-q", "--quiet", is_flag=True,
              help="No progress display (there is none unless stderr is a terminal).")
def synth(names: tuple[str, ...], build_all: bool, list_only: bool, out_dir: Path | None,
          symbol_dir: Path | None, large: bool, big_entries: int, tracked: int, gib: int,
          small_blocks: int, quiet: bool) -> None:
    """Write synthetic Windows crash dumps with their ground truth.

    With no --out, into testdata/ (dumps/ and symbols/); with --out OUT, into OUT (the
    symbol tables into OUT/symbols), nothing anywhere else."""
    from .progress import progress
    from .synth.build import BUILD_STEPS, build_scenario
    from .synth.scenarios import SCENARIOS, large_scenario

    if out_dir is None:
        out_dir, symbol_dir = Path("testdata/dumps"), symbol_dir or Path("testdata/symbols")
    symbol_dir = symbol_dir or out_dir / "symbols"
    if large:
        scenario = large_scenario(big_entries, tracked, gib, small_blocks)
        with progress(len(BUILD_STEPS), f"{scenario.name}: {BUILD_STEPS[0]}", not quiet) as advance:
            def step_done(step: str) -> None:  # show the step that runs next
                following = BUILD_STEPS[BUILD_STEPS.index(step) + 1:] or ("done",)
                advance(description=f"{scenario.name}: {following[0]}")

            result = build_scenario(scenario, out_dir, symbol_dir, step_done)
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
@click.option("--format", "output_format", type=click.Choice(["text", "json", "csv", "html"]), default="text",
              show_default=True,
              help="json: without --section, the complete dumpscan.report/1 document with its 'leaks' "
                   "section (an array for several dumps); with --section, that view's rows. html: one "
                   "self-contained page per dump with charts and every table (one dump; give -o FILE).")
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
@timeout_option
def analyze(dumps: tuple[Path, ...], symbols: tuple[Path, ...], output_format: str, section: str | None,
            pooltag: Path | None, dtb: int | None, kernel_base: int | None, fail_on_suspect: bool,
            out: Path | None, quiet: bool, timeout: float | None, **filters) -> None:
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
    if output_format not in ("text", "html") and section == "all":
        raise click.UsageError(f"--format {output_format} takes one --section (not all)")
    paths = expand(list(dumps))
    if output_format == "html" and len(paths) != 1:
        raise click.UsageError("--format html makes a page of one dump (give one dump file)")
    run = Run(paths, symbol_dirs(symbols), pooltag, quiet, dtb, kernel_base, timeout)
    frontend = _frontend(output_format, section)
    many = len(paths) > 1
    suspect, shown = False, 0
    wanted: dict[str, list] = {}
    for path, report in run.reports():
        wanted[str(path)] = ((report.get("coverage") or {}).get("modules") or {}).get("symbols_wanted") or []
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
    from .report.render_symbols import symbols_note

    note = None if quiet else symbols_note(wanted, len(wanted))
    if note:
        click.echo(note, err=True)
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
    if output_format == "html":
        return _Page()
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


class _Page:
    """--format html: the page of one dump (every view; --section does not apply)."""

    def __init__(self) -> None:
        self.text = ""

    def add(self, report: dict, query: Query) -> None:
        from .report.render_html import report_page

        self.text = report_page(report, query)

    def finish(self) -> str:
        return self.text


def _render(frontend, report: dict, section: str, query: Query, label: str, many: bool) -> None:
    """Add one dump's ``section`` to the front end."""
    if isinstance(frontend, _Page):
        frontend.add(report, query)
        return
    if isinstance(frontend, _Documents):
        frontend.add(report, many)
        return
    if isinstance(frontend, _Texts):
        from .report.render_text import TextFrontend, render_leak_report
        from .report.render_triage import is_triage_report, render_triage

        if is_triage_report(report):  # a small memory dump: what it says, no pool sections
            frontend.parts.append(render_triage(report))
            return
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
@page_format_option
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

    thresholds = thresholds_from(query_from({"threshold": threshold}))
    run = Run([old, new], symbol_dirs(symbols), pooltag, quiet, dtb, kernel_base)
    # A list, not a dict keyed by path: ``diff A.dmp A.dmp`` is two reports of one file.
    analyzed = list(run.reports())
    if len(analyzed) < 2:  # the run said why on stderr, one line per dump
        sys.exit(EXIT_USAGE)
    (_, older), (_, newer) = analyzed
    result = diff_reports(older, newer, labels=(str(old), str(new)), thresholds=thresholds)
    run.warn(Path(f"{old} -> {new}"), result.get("warnings"))
    emit(_growth_text("diff", result, output_format, top, thresholds.top_n), out)
    sys.exit(run.status(fail_on_suspect and bool(result.get("exit_status"))))


@main.command(epilog=EXIT_HELP)
@click.argument("dumps", nargs=-1, required=True, type=click.Path(path_type=Path))
@symbols_option
@page_format_option
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

    thresholds = thresholds_from(query_from({"threshold": threshold}))
    run = Run(expand(list(dumps)), symbol_dirs(symbols), pooltag, quiet, dtb, kernel_base)
    analyzed = list(run.reports())
    if len(analyzed) < 2:
        click.echo("dumpscan: series: needs at least two dumps that can be analyzed", err=True)
        sys.exit(EXIT_USAGE)
    result = run_series([r for _, r in analyzed], labels=[str(p) for p, _ in analyzed],
                        thresholds=thresholds)
    emit(_growth_text("series", result, output_format, top, thresholds.top_n), out)
    sys.exit(run.status(fail_on_suspect and bool(result.get("exit_status"))))


def _growth_text(kind: str, result: dict, output_format: str, top: int | None, top_n: int) -> str:
    """A ``diff`` or ``series`` (``kind``) result as ``output_format``: JSON, the HTML page,
    CSV, or text (``--top`` rows, else the thresholds' ``top_n``)."""
    if output_format == "json":
        return _json(result)
    if output_format == "html":
        from .report.render_html import diff_page, series_page

        return (diff_page if kind == "diff" else series_page)(result, Query(top=top))
    if output_format == "csv":
        from .report.render_csv import diff_csv, series_csv

        return (diff_csv if kind == "diff" else series_csv)(result)
    from .report.render_text import render_diff, render_series

    return (render_diff if kind == "diff" else render_series)(result, top=top or top_n)


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
@timeout_option
def batch(paths: tuple[Path, ...], symbols: tuple[Path, ...], workers: int | None, output_format: str,
          pooltag: Path | None, threshold: tuple, fail_on_suspect: bool, out: Path | None,
          quiet: bool, timeout: float | None) -> None:
    """Scan an archive: one summary row per dump (directories are walked for *.dmp).

    A dump that cannot be analyzed becomes an 'error' row (and one line on stderr); the
    others go on.
    """
    from .analysis.batch import scan_archive
    from .progress import track
    from .report.render_csv import batch_csv
    from .report.render_text import render_batch

    thresholds = thresholds_from(query_from({"threshold": threshold}))
    todo = expand(list(paths))
    if not todo:
        sys.exit(EXIT_USAGE)
    analyze = functools.partial(batch_analyze, [str(d) for d in symbol_dirs(symbols)],
                                str(pooltag) if pooltag else None)
    rows = []
    for row in track(scan_archive(todo, analyze, workers, thresholds=thresholds, timeout=timeout), "scanning",
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


# --------------------------------------------------------------------------------------
# symbols

@main.command("symbols")
@click.argument("dumps", nargs=-1, type=click.Path(path_type=Path))
@symbols_option
@click.option("--import", "imports", multiple=True, metavar="FILE.pdb", type=click.Path(path_type=Path),
              help="Convert this PDB with Volatility's pdbconv into the first symbol directory, as "
                   "windows/<pdb>/<GUID>-<age>.json.xz; repeatable.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
@out_option
def symbols_command(dumps: tuple[Path, ...], symbols: tuple[Path, ...], imports: tuple[Path, ...],
                    output_format: str, out: Path | None) -> None:
    """The symbol tables DUMPs need, and whether the symbol directories hold them.

    Lists the kernel and every loaded driver with the PDB named by its image's CodeView
    record (GUID and age) and where its table was found, or where it belongs. With
    --import, converts local PDBs into the first symbol directory (offline).
    Exit status: 0 done; 2 when a PDB could not be imported or no dump could be read.
    """
    if not dumps and not imports:
        raise click.UsageError("name a dump, or give --import FILE.pdb")
    dirs = symbol_dirs(symbols)
    failed = False
    if imports:
        from .symbols.sources import is_zip_pack
        from .vol.pdbimport import PdbImportError, import_pdb

        directory = next((d for d in dirs if not is_zip_pack(d)), None)
        if directory is None:
            raise click.UsageError("--import writes into a symbol directory, not a zip pack: give -s DIR")
        for pdb_file in imports:
            try:
                pdb, target = import_pdb(pdb_file, directory)
            except PdbImportError as exc:
                click.echo(f"dumpscan: {exc}", err=True)
                failed = True
                continue
            click.echo(f"{pdb_file}: {pdb.name} {pdb.guid}-{pdb.age} -> {target}")
    if dumps:
        from .analysis.symbol_needs import symbol_needs

        listed = []
        for path in expand(list(dumps)):
            try:
                listed.append(symbol_needs(path, dirs))
            except Exception as exc:  # one line per dump that cannot be read, never a traceback
                error(path, one_line_error(exc))
        if listed:
            from .report.render_symbols import render_symbol_needs

            emit(render_symbol_needs(listed, output_format), out)
        else:
            failed = True
    if failed:
        sys.exit(2)


# --------------------------------------------------------------------------------------
# vol


@main.command("vol", add_help_option=False,
              context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--print-plugin-dir", is_flag=True,
              help="Print the folder of dumpscan's Volatility3 plugins (for vol -p) and exit.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def vol(print_plugin_dir: bool, args: tuple[str, ...]) -> None:
    """Run Volatility3 with dumpscan's plugins: dumpscan vol -s SYMBOLS -f DUMP windows.poolleak.

    Every argument goes to Volatility's own command line (`vol`), whose plugin path gets
    the plugin folder installed with dumpscan (as `vol -p FOLDER` would); `dumpscan vol -h`
    is Volatility's help. See docs/volatility.md.
    """
    from .vol.command import PLUGIN_DIR, run_volatility

    if print_plugin_dir:
        click.echo(str(PLUGIN_DIR))
        return
    run_volatility(args)


# --------------------------------------------------------------------------------------
# report (an archive index as HTML)


@main.command("report")
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The archive index (dumpscan scan --db).")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The page to write (HTML).")
@view_options("tag", "driver", "min_bytes", "top")
def archive_report(db: Path, out: Path, **filters) -> None:
    """The archive's page: one self-contained HTML file with the fleet's top tags and top
    suspect drivers, dumps per kernel build, errors, per-machine growth and missing symbols."""
    from .archive.index import IndexUnusable, open_index
    from .report.render_html import archive_page

    query = query_from(filters)
    try:
        conn = open_index(db, read_only=True)
    except IndexUnusable as exc:
        usage_error(str(exc))
    try:
        text = archive_page(conn, str(db), query)
    finally:
        conn.close()
    emit(text, out)
