"""A wheel installed into a fresh virtual environment, run from another directory: the
``dumpscan`` command analyzes a bundled dump, and Volatility runs the plugins shipped in
the wheel, both through ``dumpscan vol`` and through a plain ``vol`` whose vol.json
names the installed plugin folder. One venv per session (slow: it installs the
dependencies from the configured package index)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DUMPS, ROOT, SYMBOLS, run_vol

X86 = DUMPS / "win81-x86-verifier.dmp"
OURS = ["windows.hittag.HitTag", "windows.poolfind.PoolFind", "windows.poolhistory.PoolHistory",
        "windows.poolleak.PoolLeak", "windows.pooltags.PoolTags", "windows.pooltrack.PoolTrack",
        "windows.verifier.Verifier"]


def run(command: list, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**clean, "PYTHONWARNINGS": "ignore", **(env or {})})


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a copy: building in place would write build/ into the checkout
    shutil.copytree(ROOT / "dumpscan", source / "dumpscan", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist", source],
                cwd=root)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("dumpscan-*.whl")
    made = run([sys.executable, "-m", "venv", root / "venv"], cwd=root)
    assert made.returncode == 0, made.stderr[-3000:]
    bin_dir = root / "venv" / "bin"
    done = run([bin_dir / "pip", "install", "-q", wheel], cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    (root / "volcache").mkdir()
    return {"bin": bin_dir, "cwd": elsewhere, "cache": root / "volcache", "home": root / "home"}


def test_the_wheel_is_imported_not_the_checkout(installed):
    where = run([installed["bin"] / "python", "-c", "import dumpscan; print(dumpscan.__file__)"],
                cwd=installed["cwd"])
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed["bin"].parent)
    folder = run([installed["bin"] / "dumpscan", "vol", "--print-plugin-dir"], cwd=installed["cwd"])
    plugin_dir = Path(folder.stdout.strip())
    assert plugin_dir.is_relative_to(installed["bin"].parent)
    shipped = sorted(p.relative_to(plugin_dir) for p in plugin_dir.rglob("*.py"))
    assert shipped == sorted(p.relative_to(ROOT / "dumpscan" / "volplugins")
                             for p in (ROOT / "dumpscan" / "volplugins").rglob("*.py"))
    assert Path("dumpscan_formats.py") in shipped and Path("windows", "poolleak.py") in shipped


def test_installed_dumpscan_analyzes_a_bundled_dump(installed):
    result = run([installed["bin"] / "dumpscan", "analyze", "-s", SYMBOLS, X86], cwd=installed["cwd"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Leak" in result.stdout and "myfault!PoolLeak+0x21" in result.stdout


def poolleak_rows(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout)
    (leak,) = [r for r in rows if r["Name"] == "Leak" and r["Kind"] == "tag"]
    assert (leak["Severity"], leak["Bytes"], leak["Count"], leak["CallerSymbol"]) == \
        ("high", 10280960, 10, "myfault!PoolLeak+0x21")
    return rows


def vol_args(installed) -> list:
    return ["-q", "--offline", "--cache-path", installed["cache"], "-r", "json", "-s", SYMBOLS, "-f", X86,
            "windows.poolleak"]


def test_dumpscan_vol_runs_the_installed_plugins(installed):
    poolleak_rows(run([installed["bin"] / "dumpscan", "vol", *vol_args(installed)], cwd=installed["cwd"]))
    bad = run([installed["bin"] / "dumpscan", "vol", *vol_args(installed), "--threshold", "bogus=1"],
              cwd=installed["cwd"])
    assert bad.returncode == 1 and "--threshold: unknown threshold" in bad.stderr


def test_each_plugin_name_resolves_to_exactly_one_plugin(installed):
    listing = run([installed["bin"] / "dumpscan", "vol", "-h"], cwd=installed["cwd"]).stdout
    names = set(re.findall(r"^\s{4}([a-z0-9_]+(?:\.[A-Za-z0-9_]+)+)\s", listing, re.M))
    assert "windows.bigpools.BigPools" in names
    for full in OURS:
        short = full.rsplit(".", 2)[1]
        assert [n for n in names if short in n] == [full]


def test_plain_vol_with_the_plugin_folder_in_vol_json(installed):
    folder = run([installed["bin"] / "dumpscan", "vol", "--print-plugin-dir"],
                 cwd=installed["cwd"]).stdout.strip()
    config = installed["home"] / ".config" / "volatility3" / "vol.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"plugin_dirs": folder}))
    rows = poolleak_rows(run([installed["bin"] / "vol", *vol_args(installed)], cwd=installed["cwd"],
                             env={"HOME": str(installed["home"])}))
    via_dumpscan = run([installed["bin"] / "dumpscan", "vol", *vol_args(installed)], cwd=installed["cwd"])
    assert rows == json.loads(via_dumpscan.stdout)


def test_dumpscan_vol_in_this_environment_equals_vol_p_plugins(vol_cache):
    """The same without a wheel: `dumpscan vol` from the checkout's environment."""
    args = ["-q", "--offline", "--cache-path", vol_cache, "-r", "json", "-s", SYMBOLS, "-f", X86,
            "windows.poolleak"]
    via_dumpscan = run([sys.executable, "-m", "dumpscan", "vol", *args], cwd=ROOT)
    expected = run_vol(X86, "windows.poolleak", plugins=True, cache=vol_cache)
    assert expected.returncode == 0, expected.stderr[-2000:]
    assert poolleak_rows(via_dumpscan) == json.loads(expected.stdout)
