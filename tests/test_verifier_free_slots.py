"""A free verifier tracker slot at the tail of the free list (NextFree NULL) that still
holds the VirtualAddress of the block it tracked is free, not outstanding.

On every real build NextFree shares its word with VirtualAddress, so such a slot reads
VirtualAddress 0. The reader takes both offsets from the symbol table, so this test
builds a machine whose `_VI_POOL_ENTRY` keeps NextFree in the second word (a layout
variant made here, not a Windows build): the tail slot keeps its stale VirtualAddress
and has no free-list link, so only its place on the PoolTrackers list tells that it is
free.
"""
from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

from dumpscan.analysis.engine import analyze_path
from dumpscan.synth import build
from dumpscan.synth.platforms import get_platform
from dumpscan.synth.platforms.base import Struct
from dumpscan.synth.scenario import Allocate, Scenario
from dumpscan.synth.scenarios import FREE_SITE_X64, LEAK_SITE_X64, MYFAULT_X64, POOL_TRACKING, SYSTEM_DRIVERS
from dumpscan.synth.truth import truth_differences
from dumpscan.vol.open import open_kernel

SLOTS_PER_PAGE = 0x1000 // 0x20  # x64 _VI_POOL_ENTRY: 0x20 bytes; slot 0 is the page header


def _next_free_in_second_word(platform):
    entry = platform.types["_VI_POOL_ENTRY"]
    fields = dict(entry.fields, NextFree=(0x8, entry.fields["NextFree"][1]))
    return replace(platform, types={**platform.types, "_VI_POOL_ENTRY": Struct(entry.size, fields)})


def test_free_list_tail_with_a_stale_virtual_address_is_not_outstanding(tmp_path: Path, monkeypatch):
    variant = _next_free_in_second_word(get_platform("win10-x64"))
    monkeypatch.setattr(build, "get_platform", lambda name: variant)
    # 126 kept blocks take slots 127..2 of the first tracker page; the next allocation takes
    # slot 1, the last free one, and its free puts slot 1 back alone: the list's tail
    kept = SLOTS_PER_PAGE - 2
    scenario = Scenario(
        name="free-tail", description="a stale VirtualAddress in the free list's tail slot",
        platform="win10-x64", dump_type=5, summary_signature="SDMP", seed=5,
        drivers=SYSTEM_DRIVERS + (replace(MYFAULT_X64, verified=True),), verifier_level=POOL_TRACKING,
        workload=(Allocate(LEAK_SITE_X64, "Leak", 0x40, paged=False, count=kept),
                  Allocate(LEAK_SITE_X64, "Leak", 0x40, paged=False, free_site=FREE_SITE_X64)))
    result = build.build_scenario(scenario, tmp_path, tmp_path / "symbols")
    truth = result.truth_data
    (freed,) = [r["address"] for r in truth["verifier"]["trace_log"] if r["kind"] == "free"]
    (page,) = [r["va"] for r in truth["bigpool"] if r["tag"] == "Vepp" and not r["free"]]

    # the premise: slot 1 holds the freed block's address and a NULL NextFree
    view = open_kernel(result.dump, [tmp_path / "symbols"]).view
    virtual_address, next_free = struct.unpack("<QQ", view.read(page + 0x20, 16))
    assert (virtual_address, next_free) == (freed, 0)

    report = analyze_path(result.dump, [tmp_path / "symbols"])
    (myfault,) = [d for d in report["verifier"]["drivers"] if d["name"] == "myfault.sys"]
    assert len(myfault["allocations"]) == kept and freed not in {a["address"] for a in myfault["allocations"]}
    problems = truth_differences(truth, report)
    assert not problems, "\n".join(problems[:20])
