"""Unmodified Volatility3 accepts every bundled DumpType 1 and 5 dump with no DTB or
offset given, and its plugins agree with the factory's ground truth."""
from __future__ import annotations

import json

import pytest

from conftest import DUMPS, REAL_ISF, SYMBOLS, bundled, load_truth, run_vol

VOLATILITY_TYPES = bundled(lambda name, truth: truth["dump"]["dump_type"] in (1, 5))
REAL_BUILDS = bundled(lambda name, truth: truth["dump"]["dump_type"] in (1, 5)
                      and (REAL_ISF / "windows" / truth["kernel"]["pdb"]
                           / f"{truth['kernel']['guid']}-{truth['kernel']['age']}.json.xz").is_file())


def _rows(result) -> list[dict]:
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def _visible_tag(tag: str) -> str:
    """windows.bigpools keeps only bytes 0x21..0x7E of a tag (pool.py)."""
    return "".join(c for c in tag if 0x21 <= ord(c) <= 0x7E)


def _bigpool_expected(truth: dict) -> list[tuple]:
    pointer_va = truth["kernel"]["pdb"] == "ntkrnlmp.pdb" and truth["kernel"]["guid"].startswith("339E")
    rows = []
    for entry in truth["bigpool"]:
        va = entry["va"] | (1 if entry["free"] else 0)
        if pointer_va:  # 7601's Va is a PVOID: Volatility masks pointers to 48 bits
            va &= (1 << 48) - 1
        rows.append((va, _visible_tag(entry["tag"]), entry["bytes"],
                     "Free" if entry["free"] else "Allocated"))
    return sorted(rows)


@pytest.mark.parametrize("name", VOLATILITY_TYPES)
def test_windows_info(name, vol_cache):
    truth = load_truth(name)
    rows = {r["Variable"]: r["Value"] for r in _rows(run_vol(DUMPS / f"{name}.dmp", "windows.info", cache=vol_cache))}
    assert int(rows["Kernel Base"], 16) == truth["kernel"]["base"] & ((1 << 48) - 1)
    assert int(rows["DTB"], 16) == truth["dump"]["dtb"]
    assert f"{truth['kernel']['guid']}-{truth['kernel']['age']}" in rows["Symbols"]
    assert rows["Is64Bit"] == str(truth["dump"]["machine"] == "x64")


@pytest.mark.parametrize("name", VOLATILITY_TYPES)
def test_windows_modules(name, vol_cache):
    truth = load_truth(name)
    rows = _rows(run_vol(DUMPS / f"{name}.dmp", "windows.modules", cache=vol_cache))
    mask = (1 << 48) - 1
    assert [(r["Name"], r["Base"], r["Size"]) for r in rows] == \
        [(m["name"], m["base"] & mask, m["size"]) for m in truth["modules"]]


@pytest.mark.parametrize("name", VOLATILITY_TYPES)
def test_windows_bigpools_equals_truth(name, vol_cache):
    truth = load_truth(name)
    rows = _rows(run_vol(DUMPS / f"{name}.dmp", "windows.bigpools", "--show-free", cache=vol_cache))
    got = sorted((r["Allocation"], r["Tag"], r["NumberOfBytes"], r["Status"]) for r in rows)
    assert got == _bigpool_expected(truth)


@pytest.mark.skipif(not REAL_BUILDS, reason="../shared/isf (the real symbol tables) is absent")
@pytest.mark.parametrize("name", REAL_BUILDS)
@pytest.mark.parametrize("plugin", ["windows.info", "windows.modules", "windows.bigpools"])
def test_same_results_with_real_symbol_tables(name, plugin, vol_cache, real_vol_cache):
    """The project's symbol table and Microsoft's (converted by JPCERT) see the same dump."""
    args = ("--show-free",) if plugin == "windows.bigpools" else ()
    ours = _rows(run_vol(DUMPS / f"{name}.dmp", plugin, *args, symbols=[SYMBOLS], cache=vol_cache))
    real = _rows(run_vol(DUMPS / f"{name}.dmp", plugin, *args, symbols=[REAL_ISF], cache=real_vol_cache))
    if plugin == "windows.info":
        ours = [r for r in ours if r["Variable"] != "Symbols"]
        real_symbols = [r for r in real if r["Variable"] == "Symbols"]
        assert str(REAL_ISF) in real_symbols[0]["Value"]
        real = [r for r in real if r["Variable"] != "Symbols"]
    assert ours == real
