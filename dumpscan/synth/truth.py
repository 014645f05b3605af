"""Ground truth of a synthetic dump in the ``dumpscan.report/1`` schema.

Computed from the simulation and the platform tables, never by reading the dump
back, so that a reader bug cannot hide behind a matching writer bug. The rules
for derived values are those of docs/report-schema.md. :func:`truth_differences`
is the judge: a report agrees with its truth when it holds every truth field with the
same value, every list (modules, big-pool rows, tags, each driver's allocations, the
trace log) in full.
"""
from __future__ import annotations

import numpy as np

from .crash import CrashState
from .kernel_image import LoadedModule
from .machine import Machine
from .pool import TAG_MEMBERS, PoolModel, TagCounters, key_tag, tag_key
from .pool_layout import DEFAULT_POOL_HIT_TAG, OVERFLOW_KEY
from .scenario import Scenario
from .small_blocks import pool_blocks_truth
from ..report.schema import SCHEMA_ID, counter_members, symbolize


def truth_differences(truth, report, path: str = "") -> list[str]:
    """Where ``truth`` is not contained in ``report``: dicts: every truth key present
    with a contained value, extra report keys allowed; lists: the same length, element
    by element; scalars: equal, a bool never equal to an int."""
    out: list[str] = []
    if isinstance(truth, dict):
        if not isinstance(report, dict):
            return [f"{path or '.'}: expected an object, got {type(report).__name__}"]
        for key, value in truth.items():
            where = f"{path}.{key}" if path else key
            if key not in report:
                out.append(f"{where}: missing from the report")
            else:
                out += truth_differences(value, report[key], where)
    elif isinstance(truth, list):
        if not isinstance(report, list):
            return [f"{path}: expected a list, got {type(report).__name__}"]
        if len(truth) != len(report):
            out.append(f"{path}: {len(report)} items, truth has {len(truth)}")
        for index, (a, b) in enumerate(zip(truth, report)):
            out += truth_differences(a, b, f"{path}[{index}]")
    elif isinstance(truth, bool) or isinstance(report, bool):
        if type(truth) is not type(report) or truth != report:
            out.append(f"{path}: report {report!r}, truth {truth!r}")
    elif truth != report:
        show = (lambda v: hex(v) if isinstance(v, int) and abs(v) > 0xFFFF else repr(v))
        out.append(f"{path}: report {show(report)}, truth {show(truth)}")
    return out


def build_truth(*, scenario: Scenario, machine: Machine, pool: PoolModel,
                modules: list[LoadedModule], crash: CrashState, dtb: int,
                processes: list[dict] | None) -> dict:
    platform = machine.platform
    canonical = machine.canonical
    module_map = [(m.name, m.base, m.size, m.functions) for m in modules]
    return {
        "schema": SCHEMA_ID,
        "dump": {
            "dump_type": scenario.dump_type,
            "machine": platform.machine,
            "dtb": dtb,
            "bugcheck": {"code": crash.bugcheck_code, "parameters": list(crash.parameters)},
        },
        "kernel": {"pdb": platform.pdb_name, "guid": platform.guid, "age": platform.age,
                   "base": canonical(machine.layout.kernel_base)},
        "modules": [{"name": m.name, "base": canonical(m.base), "size": m.size} for m in modules],
        "bigpool": _bigpool(machine, pool),
        "tags": _tags(machine, pool),
        "verifier": _verifier(scenario, machine, pool, module_map),
        "pool_hit_tag": _pool_hit_tag(scenario, crash, canonical),
        "pool_blocks": pool_blocks_truth(machine, pool),
        "processes": processes,
    }


def _bigpool(machine: Machine, pool: PoolModel) -> list[dict]:
    fields = machine.platform.types["_POOL_TRACKER_BIG_PAGES"].fields
    type_member = "PoolType" if "PoolType" in fields else "PoolFlags"
    mask = _field_mask(machine, "_POOL_TRACKER_BIG_PAGES", type_member)
    table = pool.big_table
    rows = []
    for index in np.nonzero(table.key)[0]:
        va, key = int(table.va[index]), int(table.key[index])
        row = {"va": machine.canonical(va & ~1), "key": key, "tag": key_tag(key),
               "bytes": int(table.number_of_bytes[index]),
               "pool_type": int(table.pool_type[index]) & mask, "free": bool(va & 1)}
        if "ProcessBilled" in fields:
            row["process_billed"] = 0
        rows.append(row)
    return sorted(rows, key=lambda r: r["va"])


def _field_mask(machine: Machine, type_name: str, member: str) -> int:
    spec = machine.packer.parse(machine.platform.types[type_name].fields[member][1])
    bits = spec.bit_length if spec.kind == "bitfield" else 8 * spec.size
    return (1 << bits) - 1


def _tags(machine: Machine, pool: PoolModel) -> list[dict]:
    totals: dict[int, TagCounters] = {OVERFLOW_KEY: TagCounters()}
    for table in pool.tag_counts:
        for key, counts in table.items():
            totals.setdefault(key, TagCounters()).add(counts)
    rows = []
    for key in sorted(totals):
        row = {"key": key, "tag": key_tag(key)}
        for name, member in TAG_MEMBERS.items():
            bits = 8 * machine.packer.parse(
                machine.platform.types["_POOL_TRACKER_TABLE"].fields[member][1]).size
            value = getattr(totals[key], name) % (1 << bits)
            if name.endswith("bytes") and value >= 1 << (bits - 1):
                value -= 1 << bits  # read as signed: corruption shows as negative
            row[name] = value
        rows.append(row)
    return rows


def _verifier(scenario: Scenario, machine: Machine, pool: PoolModel, module_map) -> dict | None:
    if scenario.verifier_level is None:
        return None
    stats_members = _counters(machine, "_MM_DRIVER_VERIFIER_DATA")
    driver_members = _counters(machine, "_VF_TARGET_VERIFIED_DRIVER_DATA")
    stats = {m: pool.stats.get(m, 0) % (1 << (8 * size)) for m, size in stats_members.items()}
    stats["Level"] = scenario.verifier_level
    drivers = []
    for driver in scenario.drivers:
        if not driver.verified:
            continue
        state = pool.verified.get(driver.name)
        entry = {"name": driver.name, "loaded": driver.loaded and state is not None,
                 "counters": None, "allocations": []}
        if state is not None:
            entry["counters"] = {m: state.counters.get(m, 0) % (1 << (8 * size))
                                 for m, size in driver_members.items()}
            allocations = []
            for block in pool.blocks:
                if block.owner != driver.name or block.freed or block.tracker is None:
                    continue
                slot = block.tracker
                caller = machine.canonical(slot.calling_address)
                allocations.append({
                    "address": machine.canonical(slot.virtual_address & ~1),
                    "length": slot.number_of_bytes, "key": slot.tag, "tag": key_tag(slot.tag),
                    "caller": caller, "caller_symbol": symbolize(caller, module_map)})
            entry["allocations"] = sorted(allocations, key=lambda a: a["address"])
        drivers.append(entry)
    _, ring = pool.trace_ring()
    trace = [{"index": slot, "address": machine.canonical(r.address), "size": r.size,
              "thread": machine.canonical(r.thread), "kind": r.kind,
              "stack": [machine.canonical(f) for f in r.stack if f]} for slot, r in ring]
    return {"level": scenario.verifier_level, "stats": stats,
            "drivers": sorted(drivers, key=lambda d: d["name"]), "trace_log": trace}


def _counters(machine: Machine, type_name: str) -> dict[str, int]:
    members = {}
    for name, (_, notation) in machine.platform.types[type_name].fields.items():
        spec = machine.packer.parse(notation)
        members[name] = (spec.kind, spec.size)
    return counter_members(members)


def _pool_hit_tag(scenario: Scenario, crash: CrashState, canonical) -> dict | None:
    key = tag_key(scenario.pool_hit_tag) if scenario.pool_hit_tag else DEFAULT_POOL_HIT_TAG
    if key == DEFAULT_POOL_HIT_TAG:
        return None
    hit = {"key": key, "tag": key_tag(key), "break": None}
    if crash.break_address is not None:
        hit["break"] = {"address": canonical(crash.break_address),
                        "return_addresses": [canonical(a) for a in crash.stack]}
    return hit
