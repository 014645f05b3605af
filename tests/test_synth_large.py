"""The large benchmark dump (``dumpscan synth --large``) against its truth, in full.

At its default size (1,000,000 big-pool blocks in a 2^21-entry table, 100,000 tracked
allocations) the big-page table alone needs 48 MiB of the boot-time ("system") arena;
a factory that gives the arena less overwrites the loader entries and verifier data
laid out after it. Every truth field must come back from the analysis: modules, every
verifier allocation, every big-pool row, every tag, the trace log.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_vol
from dumpscan.analysis.engine import analyze_path
from dumpscan.synth.build import build_scenario
from dumpscan.synth.scenarios import large_scenario
from dumpscan.synth.truth import truth_differences

SIZES = [
    pytest.param(20_000, 2_000, 4, id="small"),
    # the benchmark's size: ~15 s to build, ~10 s to analyze and compare; kept in CI
    pytest.param(1_000_000, 100_000, 16, id="default", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("big_entries", "tracked", "gib"), SIZES)
def test_large_dump_analyzes_equal_to_its_truth(tmp_path: Path, vol_cache: Path, big_entries: int,
                                                tracked: int, gib: int):
    result = build_scenario(large_scenario(big_entries, tracked, gib), tmp_path, tmp_path / "symbols")
    truth = result.truth_data
    drivers = {d["name"]: d for d in truth["verifier"]["drivers"]}
    assert len(drivers["contoso.sys"]["allocations"]) == tracked
    assert len(drivers["myfault.sys"]["allocations"]) == 10
    assert len(truth["modules"]) == 8  # nt, hal, 4 system drivers, myfault, contoso
    assert sum(1 for row in truth["bigpool"] if row["tag"] in ("NtFs", "Irp ", "File")) > big_entries // 10

    report = analyze_path(result.dump, [tmp_path / "symbols"])
    problems = truth_differences(truth, report)
    assert not problems, f"{len(problems)} differences:\n  " + "\n  ".join(problems[:30])
    assert report["warnings"] == []

    # unmodified Volatility3 walks the same module list
    listed = run_vol(result.dump, "windows.modules", cache=vol_cache)
    assert listed.returncode == 0, listed.stderr[-2000:]
    mask = (1 << 48) - 1
    assert [(r["Name"], r["Base"], r["Size"]) for r in json.loads(listed.stdout)] == \
        [(m["name"], m["base"] & mask, m["size"]) for m in truth["modules"]]
