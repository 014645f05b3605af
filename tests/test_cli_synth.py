"""`dumpscan synth` as a user runs it: where its files go, its progress display, and the
whole CLI writing into a pipe that closed early (`dumpscan ... | head`)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from conftest import DUMPS, SYMBOLS
from dumpscan.cli import main
from dumpscan.progress import progress

DUMPSCAN = Path(sys.executable).with_name("dumpscan")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_synth_out_writes_only_there(tmp_path: Path, monkeypatch):
    """`synth --large --out X` puts the dump, its truth and the symbol tables in X; the
    current directory stays empty."""
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(main, ["synth", "--large", "--big-entries", "2000", "--tracked", "600",
                                       "--gib", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert list(cwd.iterdir()) == []
    files = _files(out)
    assert "large-win10-x64-2000-600.dmp" in files and "large-win10-x64-2000-600.truth.json" in files
    assert any(f.startswith("symbols/windows/ntkrnlmp.pdb/") for f in files)
    assert result.stderr == ""  # no progress display: stderr is not a terminal


def test_synth_symbols_out_is_its_own_option(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["synth", "win10-x64-kernel-sdmp", "--out", "dumps",
                                       "--symbols-out", "isf"])
    assert result.exit_code == 0, result.output
    assert _files(tmp_path / "dumps") == ["win10-x64-kernel-sdmp.dmp", "win10-x64-kernel-sdmp.truth.json"]
    assert [f for f in _files(tmp_path / "isf") if f.startswith("windows/ntkrnlmp.pdb/")]
    # the input option -s/--symbols of the other commands is not an output option here
    refused = CliRunner().invoke(main, ["synth", "win10-x64-kernel-sdmp", "--symbols", "isf"])
    assert refused.exit_code == 2 and "No such option '--symbols'" in refused.output


def _into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run dumpscan with stdout a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([str(DUMPSCAN), *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    finally:
        os.close(write_end)


def test_a_closed_pipe_ends_the_command_quietly():
    """`dumpscan synth --list | head -1`: no BrokenPipeError, no traceback; the status of a
    command ended by SIGPIPE."""
    for args in (["synth", "--list"],
                 ["analyze", "-s", str(SYMBOLS), str(DUMPS / "win10-x64-kernel-sdmp.dmp")]):
        done = _into_closed_pipe(*args)
        assert (done.returncode, done.stderr) == (141, ""), args


def test_progress_is_drawn_on_a_terminal_only():
    terminal = Console(file=io.StringIO(), force_terminal=True, width=80)
    with progress(3, "building", True, console=terminal) as advance:
        advance(description="writing")
        advance(2)
    assert "writing" in terminal.file.getvalue()
    for console, enabled in ((Console(file=io.StringIO(), force_terminal=False), True),  # a pipe
                             (Console(file=io.StringIO(), force_terminal=True), False)):  # -q
        with progress(3, "building", enabled, console=console) as advance:
            advance()
        assert console.file.getvalue() == ""
