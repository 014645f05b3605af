"""The engine against the factory's ground truth: for every bundled dump, every truth
field is in the report with the same value ("truth ⊆ report"); again with the real
Microsoft symbol tables when ../shared/isf is there; and the checks of the Driver
Verifier article (../shared/seeds) on win81-x86-verifier.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema
import pytest

from dumpscan.analysis.engine import analyze_path
from dumpscan.report.schema import json_schema
from dumpscan.synth.truth import truth_differences as subset_diff  # test_cli uses it too

ROOT = Path(__file__).resolve().parents[1]
DUMPS = ROOT / "testdata" / "dumps"
SYMBOLS = ROOT / "testdata" / "symbols"
REAL_ISF = Path(__file__).resolve().parents[2] / "shared" / "isf"
TRUTHS = sorted(DUMPS.glob("*.truth.json"))
NAMES = [p.name[: -len(".truth.json")] for p in TRUTHS]


@lru_cache(maxsize=None)
def report_for(name: str, real: bool = False) -> str:
    dirs = [REAL_ISF, SYMBOLS] if real else [SYMBOLS]
    return json.dumps(analyze_path(DUMPS / f"{name}.dmp", dirs))


def load(name: str, real: bool = False) -> dict:
    return json.loads(report_for(name, real))


def check_truth(name: str, real: bool) -> None:
    truth = json.loads((DUMPS / f"{name}.truth.json").read_text())
    report = load(name, real)
    problems = subset_diff(truth, report)
    assert not problems, (f"{name}: {len(problems)} truth fields differ:\n  " + "\n  ".join(problems[:40])
                          + "\nwarnings:\n  " + "\n  ".join(report.get("warnings", [])[:20]))


@pytest.mark.parametrize("name", NAMES)
def test_truth_is_contained_in_the_report(name):
    check_truth(name, real=False)


@pytest.mark.parametrize("name", NAMES)
def test_report_is_valid_json_schema(name):
    report = load(name)
    jsonschema.validate(report, json_schema())
    assert all(isinstance(w, str) and "\n" not in w for w in report["warnings"])
    assert report["coverage"]["tables"] or report["dump"]["kind"] == "triage"  # a triage dump has none


def _real_isf_names() -> list[str]:
    if not REAL_ISF.is_dir():
        return []
    out = []
    for name, path in zip(NAMES, TRUTHS):
        kernel = json.loads(path.read_text())["kernel"]
        if kernel is None:  # a triage dump names no kernel PDB
            continue
        isf = REAL_ISF / "windows" / kernel["pdb"] / f"{kernel['guid']}-{kernel['age']}.json.xz"
        if isf.is_file():
            out.append(name)
    return out


@pytest.mark.skipif(not REAL_ISF.is_dir(), reason="../shared/isf (real symbol tables) not present")
@pytest.mark.parametrize("name", _real_isf_names())
def test_truth_with_real_symbol_tables(name):
    report = load(name, real=True)
    assert Path(report["kernel"]["symbols"]).resolve().is_relative_to(REAL_ISF.resolve())
    check_truth(name, real=True)


def test_real_isf_covers_win7_win10_win11():
    if not REAL_ISF.is_dir():
        pytest.skip("../shared/isf not present")
    names = _real_isf_names()
    assert any(n.startswith("win7-") for n in names)
    assert any(n.startswith("win10-") for n in names)
    assert any(n.startswith("win11-x64") for n in names)


# -- the Driver Verifier article on Windows 8.1 x86 (../shared/seeds) --------------------------
def test_article_ten_leak_allocations_from_poolleak():
    report = load("win81-x86-verifier")
    driver = next(d for d in report["verifier"]["drivers"] if d["name"] == "myfault.sys")
    assert driver["loaded"]
    allocations = driver["allocations"]
    assert len(allocations) == 10
    assert {(a["tag"], a["length"], a["caller"], a["caller_symbol"]) for a in allocations} == {
        ("Leak", 0xFB000, 0x98726659, "myfault!PoolLeak+0x21")}
    assert sorted(a["address"] for a in allocations) == [
        0x9CA00000, 0x9CAFB000, 0x9CC00000, 0x9CCFB000, 0x9CE00000, 0x9CEFB000,
        0x9D000000, 0x9D0FB000, 0x9D200000, 0x9D2FB000]
    counters = driver["counters"]
    assert counters["CurrentPagedPoolAllocations"] == 0xA and counters["PagedBytes"] == 0x9CE000
    stats = report["verifier"]["stats"]
    assert stats["AllocationsSucceededSpecialPool"] == 0xA and stats["AllocationsWithNoTag"] == 1


def test_article_reused_address_history():
    report = load("win81-x86-verifier")
    history = [r for r in reversed(report["verifier"]["trace_log"]) if r["address"] == 0x9CA00000]
    assert [r["kind"] for r in history] == ["allocate", "free", "allocate"]
    assert "myfault!FreePoolLeak+0x33" in history[1]["symbols"]
    assert history[1]["symbols"][0] == "nt!ExFreePoolWithTag+0x7b1"
    assert history[0]["symbols"][:3] == ["nt!XdvExAllocatePoolInternal+0x17",
                                         "nt!VerifierExAllocatePoolWithTag+0x24", "myfault!PoolLeak+0x21"]
    assert history[0]["size"] == 0xFA000 and history[1]["size"] == 0xFB000


def test_poolhittag_break_chain():
    report = load("win7-x64-poolhittag")
    hit = report["pool_hit_tag"]
    assert hit["tag"] == "Lea2" and hit["break"]["symbol"].startswith("nt!")
    symbols = hit["break"]["symbols"]
    assert symbols[:4] == ["nt!KiDispatchException+0x1a9", "nt!KiExceptionDispatch+0xc2",
                           "nt!KiBreakpointTrap+0xf7", "nt!ExAllocatePoolWithTag+0x82e"]
    assert "myfault!MyfaultDeviceControl+0x87" in symbols
    assert report["header"]["bugcheck_name"] == "KMODE_EXCEPTION_NOT_HANDLED"


def test_verifier_off_is_said_plainly():
    report = load("win10-x64-kernel-sdmp")
    assert report["verifier"] is None
    assert report["header"]["driver_verifier"].startswith("off")
