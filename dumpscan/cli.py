"""The ``dumpscan`` command line."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__


@click.group()
@click.version_option(__version__)
def main() -> None:
    """Find kernel pool leaks in Windows crash dumps, offline."""


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


@main.command()
@click.argument("dumps", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-s", "--symbols", "symbol_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Symbol directory (ISF files as windows/<pdb>/<GUID>-<age>.json.xz); repeatable.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def analyze(dumps: tuple[Path, ...], symbol_dirs: tuple[Path, ...], output_format: str) -> None:
    """Analyze crash dumps for pool leaks (the leak report, or dumpscan.report/1 JSON)."""
    import json

    from .analysis.engine import analyze_path
    from .analysis.leaks import analyze as analyze_leaks
    from .report.render_text import render_leak_report

    failed = 0
    for dump in dumps:
        try:
            report = analyze_path(dump, list(symbol_dirs) or [Path("symbols")])
        except Exception as exc:  # one line per bad dump; the others still run
            click.echo(f"dumpscan: {dump}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                       err=True)
            failed += 1
            continue
        report["leaks"] = analyze_leaks(report)
        if output_format == "json":
            click.echo(json.dumps(report, indent=1))
        else:
            click.echo(render_leak_report(report))
    if failed:
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
