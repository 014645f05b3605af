"""Every plugin agrees with the truth on every bundled dump, with the project's symbol
tables and, when ../shared/isf is there, with the real ones (Microsoft's PDBs converted
by JPCERT) for the kernel, through the real ``vol -p plugins`` command."""
from __future__ import annotations

import json

import pytest

from conftest import DUMPS, REAL_ISF, SYMBOLS, bundled, load_truth, run_vol


def _real_table_exists(truth: dict) -> bool:
    kernel = truth["kernel"]
    return (REAL_ISF / "windows" / kernel["pdb"] / f"{kernel['guid']}-{kernel['age']}.json.xz").is_file()


CASES = [pytest.param(name, False, id=name) for name in bundled()] + [
    pytest.param(name, True, id=f"{name}-real-isf")
    for name in bundled(lambda name, truth: _real_table_exists(truth))]


@pytest.fixture
def vol(request, vol_cache):
    """Run a plugin of ours on a dump with the project's or the real symbol tables."""
    def run(name: str, real: bool, plugin: str, *args: str) -> list[dict]:
        cache = request.getfixturevalue("real_and_project_vol_cache") if real else vol_cache
        symbols = [REAL_ISF, SYMBOLS] if real else [SYMBOLS]
        result = run_vol(DUMPS / f"{name}.dmp", plugin, *args, symbols=symbols, plugins=True, cache=cache)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
        return json.loads(result.stdout)
    return run


@pytest.mark.parametrize("name, real", CASES)
def test_pooltags(name, real, vol):
    rows = vol(name, real, "pooltags")
    got = {r["Key"]: (r["NonPagedAllocs"], r["NonPagedFrees"], r["NonPagedBytes"],
                      r["PagedAllocs"], r["PagedFrees"], r["PagedBytes"]) for r in rows}
    want = {t["key"]: (t["nonpaged_allocs"], t["nonpaged_frees"], t["nonpaged_bytes"],
                       t["paged_allocs"], t["paged_frees"], t["paged_bytes"])
            for t in load_truth(name)["tags"]}
    assert got == want


@pytest.mark.parametrize("name, real", CASES)
def test_verifier_and_history(name, real, vol):
    truth = load_truth(name)["verifier"]
    if truth is None:
        assert vol(name, real, "verifier") == []
        return
    rows = vol(name, real, "verifier")
    assert [(r["Driver"], r["Loaded"]) for r in rows] == [(d["name"], d["loaded"]) for d in truth["drivers"]]
    for row, driver in zip(rows, truth["drivers"]):
        got = sorted((c["Address"], c["Length"], c["Tag"], c["Caller"], c["CallerSymbol"])
                     for c in row["__children"])
        assert got == sorted((a["address"], a["length"], a["tag"], a["caller"], a["caller_symbol"])
                             for a in driver["allocations"])
    history = vol(name, real, "poolhistory", "--top", str(len(truth["trace_log"])))
    got = [(r["Index"], r["Kind"], r["Address"], r["Size"], r["Thread"],
            [c["Address"] for c in r["__children"]]) for r in history]
    want = [(r["index"], r["kind"], r["address"], r["size"], r["thread"], r["stack"])
            for r in reversed(truth["trace_log"])]
    assert got == want


@pytest.mark.parametrize("name, real", CASES)
def test_hittag(name, real, vol):
    truth = load_truth(name)["pool_hit_tag"]
    rows = vol(name, real, "hittag")
    if truth is None:
        assert all(r["Key"] in (0xFFFFFF0F, 0) for r in rows)
        return
    (row,) = rows
    assert (row["Key"], row["Tag"]) == (truth["key"], truth["tag"])
    if truth["break"] is not None:
        assert row["Address"] == truth["break"]["address"]
        assert [c["Address"] for c in row["__children"]] == truth["break"]["return_addresses"]
