"""Shared test fixtures: the bundled dumps, their truth, and how to run Volatility."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTDATA = ROOT / "testdata"
DUMPS = TESTDATA / "dumps"
SYMBOLS = TESTDATA / "symbols"
PLUGINS = ROOT / "plugins"
# The real symbol tables beside the project (../shared/isf); absent for a plain clone.
REAL_ISF = (ROOT.parent / "shared" / "isf").resolve()  # resolved: ../shared may be a symlink
VOL = Path(sys.executable).with_name("vol")


def bundled(predicate=lambda name, truth: True) -> list[str]:
    """Names of the bundled dumps whose truth satisfies ``predicate``."""
    names = []
    for path in sorted(DUMPS.glob("*.truth.json")):
        name = path.name[: -len(".truth.json")]
        if predicate(name, load_truth(name)):
            names.append(name)
    return names


_TRUTH: dict[str, dict] = {}


def load_truth(name: str) -> dict:
    if name not in _TRUTH:
        _TRUTH[name] = json.loads((DUMPS / f"{name}.truth.json").read_text())
    return _TRUTH[name]


def run_vol(dump: Path, plugin: str, *args: str, symbols: list[Path] | None = None,
            plugins: bool = False, cache: Path, renderer: str = "json") -> subprocess.CompletedProcess:
    """Run the real ``vol`` command offline (never downloading symbols) with its own cache."""
    command = [str(VOL), "-q", "--offline", "--cache-path", str(cache), "-r", renderer,
               "-s", ";".join(str(s) for s in (symbols or [SYMBOLS]))]
    if plugins:
        command += ["-p", str(PLUGINS)]
    command += ["-f", str(dump), plugin, *args]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def _shared_cache(tmp_path_factory, name: str, symbols: list[Path]) -> Path:
    """A Volatility cache shared by all test processes (pytest-xdist workers), warmed
    once under a file lock: validating and indexing a real symbol table takes seconds,
    and Volatility's cache is not safe for concurrent first use."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    cache = root / name
    cache.mkdir(exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cache / "warm").exists():
            run_vol(DUMPS / "win10-x64-verifier-full.dmp", "windows.info", symbols=symbols,
                    cache=cache)
            (cache / "warm").touch()
    return cache


@pytest.fixture(scope="session")
def vol_cache(tmp_path_factory) -> Path:
    """Volatility's cache for the project's symbol tables."""
    return _shared_cache(tmp_path_factory, "volcache", [SYMBOLS])


@pytest.fixture(scope="session")
def real_vol_cache(tmp_path_factory) -> Path:
    """Volatility's cache for the real symbol tables in ../shared/isf."""
    return _shared_cache(tmp_path_factory, "volcache-real", [REAL_ISF])


@pytest.fixture(scope="session")
def real_and_project_vol_cache(tmp_path_factory) -> Path:
    """Volatility's cache for the real kernel tables plus the project's driver tables."""
    return _shared_cache(tmp_path_factory, "volcache-both", [REAL_ISF, SYMBOLS])
