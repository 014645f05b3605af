"""The factory: deterministic output, schema-valid truth, PE images and internal
consistency of what it claims; the article scenarios carry the article's facts."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pefile
import pytest
from click.testing import CliRunner

from conftest import DUMPS, SYMBOLS, bundled, load_truth
from dumpscan.cli import main
from dumpscan.analysis.engine import analyze_path
from dumpscan.dumpfile import open_dump
from dumpscan.kernel.view import MemoryAbsent
from dumpscan.report.schema import json_schema
from dumpscan.synth.build import build_scenario
from dumpscan.synth.machine import MAPS, Machine, OverlapError
from dumpscan.synth.platforms import get_platform
from dumpscan.synth.scenarios import SCENARIOS, large_scenario
from dumpscan.synth.truth import truth_differences
from dumpscan.vol.open import open_kernel

ALL = bundled(triage=True)


def test_every_scenario_is_bundled():
    assert sorted(ALL) == sorted(SCENARIOS)


def test_regeneration_is_byte_identical(tmp_path, monkeypatch):
    """`dumpscan synth --all`, no options, reproduces testdata/ exactly (dumps, truth,
    symbol tables) and writes nothing else."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["synth", "--all"])
    assert result.exit_code == 0, result.output
    fresh = tmp_path / "testdata"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["testdata"]
    assert sorted(p.name for p in fresh.iterdir()) == ["dumps", "symbols"]
    for name in ALL:
        for suffix in (".dmp", ".truth.json"):
            data = (fresh / "dumps" / f"{name}{suffix}").read_bytes()
            assert data == (DUMPS / f"{name}{suffix}").read_bytes(), f"{name}{suffix} differs"
    assert sorted(p.name for p in (fresh / "dumps").iterdir()) == sorted(p.name for p in DUMPS.iterdir())
    for path in SYMBOLS.rglob("*.json.xz"):
        assert (fresh / "symbols" / path.relative_to(SYMBOLS)).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("name", ALL)
def test_truth_follows_the_schema(name):
    jsonschema.validate(load_truth(name), json_schema())


@pytest.mark.parametrize("name", ALL)
def test_truth_is_internally_consistent(name):
    truth = load_truth(name)
    assert [row["va"] for row in truth["bigpool"]] == sorted(row["va"] for row in truth["bigpool"])
    assert [row["key"] for row in truth["tags"]] == sorted(row["key"] for row in truth["tags"])
    for row in truth["tags"]:
        assert row["paged_bytes"] >= 0 and row["nonpaged_bytes"] >= 0
    verifier = truth["verifier"]
    if verifier is None:
        return
    for driver in verifier["drivers"]:
        if driver["counters"] is None:  # configured, never loaded
            assert not driver["loaded"] and driver["allocations"] == []
            continue
        counters = driver["counters"]
        assert len(driver["allocations"]) == (counters["CurrentPagedPoolAllocations"]
                                              + counters["CurrentNonPagedPoolAllocations"])
        assert sum(a["length"] for a in driver["allocations"]) == (counters["PagedBytes"]
                                                                   + counters["NonPagedBytes"])
    ring = verifier["trace_log"]
    assert all(r["stack"] and r["kind"] in ("allocate", "free") for r in ring)


@pytest.mark.parametrize("name", bundled())  # kernel dumps: a triage dump holds no images
def test_images_are_valid_pe_with_codeview(name):
    """pefile (an independent PE parser) reads the kernel's headers from the dump and
    finds the CodeView record naming the truth's PDB."""
    truth = load_truth(name)
    opened = open_kernel(DUMPS / f"{name}.dmp", [SYMBOLS])
    header_page = opened.view.read(truth["kernel"]["base"], 0x1000)
    image = pefile.PE(data=header_page, fast_load=True)
    image.parse_data_directories([pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DEBUG"]])
    codeview = image.DIRECTORY_ENTRY_DEBUG[0].entry
    assert codeview.PdbFileName.rstrip(b"\0").decode() == truth["kernel"]["pdb"]
    assert codeview.Age == truth["kernel"]["age"]
    assert image.OPTIONAL_HEADER.ImageBase & ((1 << 64) - 1) == truth["kernel"]["base"]


def test_driver_verifier_article_facts():
    """win81-x86: the allocations, callers and stacks `!verifier 3` / `!verifier 80` print."""
    truth = load_truth("win81-x86-verifier")
    (myfault,) = truth["verifier"]["drivers"]
    assert [hex(a["address"]) for a in myfault["allocations"]] == [
        "0x9ca00000", "0x9cafb000", "0x9cc00000", "0x9ccfb000", "0x9ce00000",
        "0x9cefb000", "0x9d000000", "0x9d0fb000", "0x9d200000", "0x9d2fb000"]
    assert {(a["length"], a["tag"], a["caller"], a["caller_symbol"]) for a in myfault["allocations"]} \
        == {(0xFB000, "Leak", 0x98726659, "myfault!PoolLeak+0x21")}
    stats = truth["verifier"]["stats"]
    assert (stats["CurrentPagedPoolAllocations"], stats["PagedBytes"]) == (0xA, 0x9CE000)
    assert (stats["AllocationsAttempted"], stats["AllocationsSucceededSpecialPool"]) == (0xB, 0xA)
    allocate, free = truth["verifier"]["trace_log"][:2]
    assert [hex(f) for f in allocate["stack"][2:]] == [
        "0x98726659", "0x98726ab3", "0x98726b26", "0x815258f3", "0x810d3a52", "0x812e765e",
        "0x812ea318", "0x812e9f22", "0x81186377"]
    assert (allocate["size"], allocate["thread"]) == (0xFA000, 0x98090300)
    assert [hex(f) for f in free["stack"]] == [
        "0x8124fbd1", "0x81527241", "0x987266bb", "0x815258f3", "0x810d3a52", "0x812e4174",
        "0x812ee7f9", "0x810d549b", "0x8134d51d", "0x8134d2cc", "0x8134cb82", "0x8130627a",
        "0x813a7efc"]
    assert (free["size"], free["thread"]) == (0xFB000, 0x980CD040)


def test_pool_hit_tag_article_facts():
    truth = load_truth("win7-x64-poolhittag")
    hit = truth["pool_hit_tag"]
    assert (hit["key"], hit["tag"]) == (0x3261654C, "Lea2")
    assert truth["dump"]["bugcheck"]["code"] == 0x1E
    assert truth["dump"]["bugcheck"]["parameters"][:2] == [0x80000003, hit["break"]["address"]]
    myfault = next(m for m in truth["modules"] if m["name"] == "myfault.sys")
    offsets = [a - myfault["base"] for a in hit["break"]["return_addresses"]
               if myfault["base"] <= a < myfault["base"] + myfault["size"]]
    assert offsets == [0x1634, 0x1727]


def test_leak_on_unload_facts():
    """Bug check 0xC4/0x62: the driver is gone from the module list but Driver Verifier
    still holds its data, which parameter 3 points at, with parameter 4 allocations."""
    truth = load_truth("win10-x64-verifier-unload")
    code, parameters = truth["dump"]["bugcheck"]["code"], truth["dump"]["bugcheck"]["parameters"]
    (litware,) = [d for d in truth["verifier"]["drivers"] if d["name"] == "litware.sys"]
    assert (code, parameters[0], parameters[3]) == (0xC4, 0x62, len(litware["allocations"]))
    assert not litware["loaded"] and "litware.sys" not in [m["name"] for m in truth["modules"]]
    assert {a["tag"] for a in litware["allocations"]} == {"Litw", "LitB"}
    assert all(a["caller_symbol"].startswith("0xfffff805") for a in litware["allocations"])


def test_kernel_only_dumps_leave_user_pages_out():
    full = load_truth("win10-x64-series-t0")
    for name in ("win10-x64-kernel-sdmp", "win10-x64-live-kernel", "win10-x64-rdmp-kernel"):
        with open_dump(DUMPS / f"{name}.dmp") as kernel_only:
            assert kernel_only.header.dump_type == load_truth(name)["dump"]["dump_type"]
            opened = open_kernel(DUMPS / f"{name}.dmp", [SYMBOLS])
            with pytest.raises(MemoryAbsent, match="0x7ff65a8b0000 .* is not in the dump"):
                opened.view.read(0x00007FF65A8B0000, 2)  # NotMyfault.exe, user space
    opened = open_kernel(DUMPS / "win10-x64-series-t0.dmp", [SYMBOLS])
    assert opened.view.read(0x00007FF65A8B0000, 2) == b"MZ"
    assert full["dump"]["dump_type"] == 5


def test_large_dump_is_sparse_and_high(tmp_path: Path):
    """A scaled-down benchmark machine: 16 GiB of RAM in a bitmap dump holding only the
    pages in use, most of them above 4 GB."""
    result = build_scenario(large_scenario(big_entries=20_000, tracked=2_000), tmp_path,
                            tmp_path / "symbols")
    with open_dump(result.dump) as dump:
        assert dump.header.dump_type == 5 and dump.header.summary_signature == "SDMP"
        assert dump.bitmap_pages >= 16 * 2**18
        pfns = dump.present_pfns()
        assert len(pfns) < 4000 and (pfns > 0x100000).mean() > 0.9  # 2048: the trace ring
    truth = json.loads(result.truth.read_text())
    assert len(truth["bigpool"]) >= 20_000
    contoso = next(d for d in truth["verifier"]["drivers"] if d["name"] == "contoso.sys")
    assert len(contoso["allocations"]) == 2_000


def test_arenas_are_sized_from_what_they_hold():
    """An arena keeps its default span unless it must hold more; then the arenas after it
    in its region move up (2 MiB steps); the last arena of a region spans what it holds."""
    layout = MAPS["win10-x64"]
    default = layout.arena_plan()
    assert (default["system"].start, default["nonpaged_small"].start, default["nonpaged"].start) == \
        (0xFFFFB20C3E000000, 0xFFFFB20C40000000, 0xFFFFB20C41000000)
    sized = layout.arena_plan({"system": 48 * 2**20 + 1, "nonpaged": 5 * 2**30})
    assert sized["system"].end - sized["system"].start == 50 * 2**20
    assert sized["nonpaged_small"].start == sized["system"].end
    assert sized["nonpaged"].start == sized["nonpaged_small"].end
    assert sized["nonpaged"].end - sized["nonpaged"].start == 5 * 2**30
    assert sized["paged_small"] == default["paged_small"]


def test_a_big_page_table_larger_than_the_default_system_arena(tmp_path: Path):
    """A 2^21-entry big-page table (48 MiB) does not fit the 32 MiB default: the arena
    grows and the loader entries and verifier data after it stay intact."""
    scenario = replace(SCENARIOS["win10-x64-verifier-full"], name="wide-table", big_table_size=1 << 21)
    result = build_scenario(scenario, tmp_path, tmp_path / "symbols")
    report = analyze_path(result.dump, [tmp_path / "symbols"])
    problems = truth_differences(result.truth_data, report)
    assert not problems, "\n".join(problems[:20])


def test_overlapping_ranges_are_refused(tmp_path: Path, monkeypatch):
    """Drivers loaded where the small nonpaged pool lies: the build stops, naming both."""
    layout = MAPS["win10-x64"]
    monkeypatch.setitem(MAPS, "win10-x64",
                        replace(layout, driver_base=layout.arena_plan()["nonpaged_small"].start))
    with pytest.raises(OverlapError, match=r"nonpaged_small arena \[0x[0-9a-f]+, 0x[0-9a-f]+\) overlaps image of Ntfs\.sys"):
        build_scenario(SCENARIOS["win10-x64-kernel-sdmp"], tmp_path, tmp_path / "symbols")


def test_the_system_arena_refuses_what_it_cannot_hold():
    machine = Machine(get_platform("win10-x64"), MAPS["win10-x64"], [(0x100, 0x1000)])
    span = machine.arenas["system"].end - machine.arenas["system"].start
    assert machine.system_allocation(span - 0x1000) == machine.arenas["system"].start
    with pytest.raises(OverlapError, match="do not fit in the system arena"):
        machine.system_allocation(0x1001)
