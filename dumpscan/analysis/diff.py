"""Compare reports of one machine taken at different times.

:func:`diff_reports` compares two reports: per-tag growth, new and vanished big-pool
blocks, per-driver verifier deltas. :func:`series` takes two or more reports, orders
them by time and finds the tags whose outstanding allocations grow monotonically. These
feed the ``growth`` suspect rule of :mod:`dumpscan.analysis.leaks`.

Time comes from the engine's ``header``: ``uptime_seconds`` (the dump header's
SystemUpTime) gives rates "per hour of uptime"; ``system_time`` (FILETIME or ISO 8601)
orders reports. Without either, the reports keep the order they were given and rates
are ``None``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .leaks import (Thresholds, bigpool_by_tag, crash_time, driver_summaries, exit_status,
                    find_suspects, kernel_build, partial_tags, report_header, report_label,
                    summarize_tags, tag_totals, uptime_seconds)

# Header fields naming the machine, where an engine or a future dump format provides them.
MACHINE_NAMES = ("computer_name", "machine_name", "machine_id")


def _point(report: Mapping, index: int, label: str | None) -> dict:
    return {"index": index, "label": label or report_label(report, f"report {index}"),
            "uptime_seconds": uptime_seconds(report), "system_time": crash_time(report),
            "kernel": kernel_build(report)}


def _elapsed(older: dict, newer: dict) -> tuple[float | None, str | None]:
    """Seconds between two points, and which clock gave them ('uptime' or 'system_time').
    Uptime is preferred (rates are per hour of uptime) unless it went backwards (a reboot)."""
    a, b = older["uptime_seconds"], newer["uptime_seconds"]
    if a is not None and b is not None and b > a:
        return b - a, "uptime"
    a, b = older["system_time"], newer["system_time"]
    if a is not None and b is not None and b > a:
        return b - a, "system_time"
    return None, None


def _architecture(report: Mapping) -> str | None:
    value = (report.get("dump") or {}).get("machine") or report_header(report).get("machine")
    return value if value in ("x86", "x64") else None


def _machine_warnings(older: Mapping, newer: Mapping, p_old: dict, p_new: dict) -> list[str]:
    """Why two reports cannot be one machine at two times: architectures, kernel builds
    (else kernel PDB GUIDs), machine names where known, and crash times in the wrong order."""
    warnings = []
    a_old, a_new = _architecture(older), _architecture(newer)
    if a_old and a_new and a_old != a_new:
        warnings.append(f"{p_old['label']} is an {a_old} dump and {p_new['label']} an {a_new} dump: "
                        "they cannot be dumps of one machine, the comparison means nothing")
    b_old, b_new = report_header(older).get("kernel_build"), report_header(newer).get("kernel_build")
    k_old, k_new = older.get("kernel") or {}, newer.get("kernel") or {}
    if b_old and b_new and b_old != b_new:
        warnings.append(f"different kernel builds ({b_old} vs {b_new}): another machine, or Windows "
                        "was updated in between")
    elif k_old.get("guid") and k_new.get("guid") and k_old["guid"] != k_new["guid"]:
        warnings.append(f"different kernels ({k_old.get('pdb')} {k_old['guid']} vs "
                        f"{k_new.get('pdb')} {k_new['guid']}): not the same machine state")
    for key in MACHINE_NAMES:
        n_old, n_new = report_header(older).get(key), report_header(newer).get(key)
        if n_old and n_new and n_old != n_new:
            warnings.append(f"different {key.replace('_', ' ')}s ({n_old} vs {n_new}): not one machine")
    t_old, t_new = p_old["system_time"], p_new["system_time"]
    if t_old is not None and t_new is not None and t_new < t_old:
        warnings.append(f"{p_new['label']} was written before {p_old['label']} (crash times): the deltas "
                        "run backwards; give the older dump first")
    if (p_old["uptime_seconds"] is not None and p_new["uptime_seconds"] is not None
            and p_new["uptime_seconds"] < p_old["uptime_seconds"]):
        warnings.append(f"uptime went down from {p_old['label']} to {p_new['label']}: "
                        "the machine rebooted in between, deltas compare two boots")
    return warnings


def _per_hour(delta: int, seconds: float | None) -> float | None:
    return delta * 3600.0 / seconds if seconds else None


def diff_reports(older: Mapping, newer: Mapping, *, labels: tuple[str, str] | None = None,
                 thresholds: Thresholds | None = None) -> dict:
    """Differences from ``older`` to ``newer`` (JSON-serialisable), with the ``growth``
    suspects of the pair and their ``exit_status`` under ``thresholds``."""
    p_old = _point(older, 0, labels[0] if labels else None)
    p_new = _point(newer, 1, labels[1] if labels else None)
    seconds, basis = _elapsed(p_old, p_new)
    warnings = _machine_warnings(older, newer, p_old, p_new)
    if seconds is None:
        warnings.append("elapsed time unknown (no uptime or system time in both headers): "
                        "no rates")

    before = {r["tag"]: r for r in tag_totals(older)}
    after = {r["tag"]: r for r in tag_totals(newer)}
    partial_before, partial_after = partial_tags(older), partial_tags(newer)
    zero = {"outstanding": 0, "bytes": 0, "paged_bytes": 0, "nonpaged_bytes": 0,
            "paged_outstanding": 0, "nonpaged_outstanding": 0, "key": 0}
    # A tag whose totals one report could not complete is not 0 there: no delta, listed apart.
    partial = []
    for tag in sorted((set(before) | set(after)) & (set(partial_before) | set(partial_after))):
        a, b = before.get(tag), after.get(tag)
        partial.append({
            "tag": tag, "key": (b or a or partial_after.get(tag) or partial_before.get(tag))["key"],
            "status": "partial",
            "partial_in": [side for side, rows in (("older", partial_before), ("newer", partial_after))
                           if tag in rows],
            "outstanding_before": a["outstanding"] if a else None,
            "outstanding_after": b["outstanding"] if b else None,
            "bytes_before": a["bytes"] if a else None, "bytes_after": b["bytes"] if b else None,
        })
    if partial:
        warnings.append(summarize_tags(partial, "have partial totals in one report (a tag-table "
                                       "page missing): not compared"))
    tags = []
    for tag in (set(before) | set(after)) - {p["tag"] for p in partial}:
        a, b = before.get(tag, zero), after.get(tag, zero)
        entry = {
            "tag": tag, "key": b.get("key") or a.get("key", 0),
            "outstanding_before": a["outstanding"], "outstanding_after": b["outstanding"],
            "outstanding_delta": b["outstanding"] - a["outstanding"],
            "bytes_before": a["bytes"], "bytes_after": b["bytes"],
            "bytes_delta": b["bytes"] - a["bytes"],
            "paged_bytes_delta": b["paged_bytes"] - a["paged_bytes"],
            "nonpaged_bytes_delta": b["nonpaged_bytes"] - a["nonpaged_bytes"],
            "status": "new" if tag not in before else "vanished" if tag not in after else "changed",
        }
        if not (entry["outstanding_delta"] or entry["bytes_delta"]):
            continue
        entry["bytes_per_hour"] = _per_hour(entry["bytes_delta"], seconds)
        entry["outstanding_per_hour"] = _per_hour(entry["outstanding_delta"], seconds)
        tags.append(entry)
    tags.sort(key=lambda e: (-e["bytes_delta"], -e["outstanding_delta"], e["tag"]))

    def live_blocks(report: Mapping) -> dict[int, dict]:
        return {b["va"]: b for b in report.get("bigpool") or [] if not b.get("free")}

    old_blocks, new_blocks = live_blocks(older), live_blocks(newer)

    def by_tag(blocks: list[dict]) -> list[dict]:
        return bigpool_by_tag({"bigpool": blocks}, top=None)

    appeared = [b for va, b in new_blocks.items()
                if va not in old_blocks or old_blocks[va].get("key") != b.get("key")]
    vanished = [b for va, b in old_blocks.items()
                if va not in new_blocks or new_blocks[va].get("key") != b.get("key")]

    drivers = []
    d_old = {d["name"]: d for d in driver_summaries(older, top=None)}
    d_new = {d["name"]: d for d in driver_summaries(newer, top=None)}
    for name in sorted(set(d_old) | set(d_new), key=str.lower):
        a, b = d_old.get(name), d_new.get(name)
        addresses_a = {x["address"] for x in (a or {}).get("allocations", [])}
        addresses_b = {x["address"] for x in (b or {}).get("allocations", [])}
        new_allocs = [x for x in (b or {}).get("allocations", []) if x["address"] not in addresses_a]
        gone_allocs = [x for x in (a or {}).get("allocations", []) if x["address"] not in addresses_b]
        entry = {
            "name": name,
            "loaded_before": a["loaded"] if a else None, "loaded_after": b["loaded"] if b else None,
            "outstanding_before": a["outstanding"] if a else 0,
            "outstanding_after": b["outstanding"] if b else 0,
            "bytes_before": a["bytes"] if a else 0, "bytes_after": b["bytes"] if b else 0,
            "new_allocations": len(new_allocs),
            "new_bytes": sum(x.get("length", 0) for x in new_allocs),
            "freed_allocations": len(gone_allocs),
            "freed_bytes": sum(x.get("length", 0) for x in gone_allocs),
        }
        entry["outstanding_delta"] = entry["outstanding_after"] - entry["outstanding_before"]
        entry["bytes_delta"] = entry["bytes_after"] - entry["bytes_before"]
        entry["bytes_per_hour"] = _per_hour(entry["bytes_delta"], seconds)
        drivers.append(entry)
    drivers.sort(key=lambda e: (-e["bytes_delta"], e["name"].lower()))
    growth = series([older, newer], labels=[p_old["label"], p_new["label"]], thresholds=thresholds)

    return {
        "older": p_old, "newer": p_new,
        "elapsed_seconds": seconds, "rate_basis": basis,
        "tags": tags,
        "partial": partial,
        "bigpool": {"new": by_tag(appeared), "vanished": by_tag(vanished),
                    "new_blocks": len(appeared), "new_bytes": sum(b.get("bytes", 0) for b in appeared),
                    "vanished_blocks": len(vanished),
                    "vanished_bytes": sum(b.get("bytes", 0) for b in vanished)},
        "drivers": drivers,
        "suspects": growth["suspects"],
        "exit_status": exit_status(growth["suspects"], thresholds),
        "warnings": warnings,
    }


def order_reports(reports: Sequence[Mapping]) -> tuple[list[int], str]:
    """Indices of ``reports`` oldest first, and what ordered them: 'system_time' when
    every report has one (ties broken by uptime when known), else 'uptime' when every
    report has one, else 'given'."""
    times = [crash_time(r) for r in reports]
    ups = [uptime_seconds(r) for r in reports]
    if all(t is not None for t in times):
        return sorted(range(len(reports)), key=lambda i: (times[i], ups[i] or 0, i)), "system_time"
    if all(u is not None for u in ups):
        return sorted(range(len(reports)), key=lambda i: (ups[i], i)), "uptime"
    return list(range(len(reports))), "given"


def series(reports: Sequence[Mapping], *, labels: Sequence[str] | None = None,
           thresholds: Thresholds | None = None) -> dict:
    """Tags whose outstanding allocations grow across 2+ reports of one machine.

    ``tags`` lists every tag whose outstanding count and bytes never decrease from one
    report to the next and that grew overall (``growing`` = True), biggest byte growth
    first; ``strict`` = it grew at every step. ``suspects`` are the ``growth`` suspects
    of the newest report (the other rules are left to :func:`leaks.analyze`)."""
    if len(reports) < 2:
        raise ValueError("a series needs at least two reports")
    t = thresholds or Thresholds()
    order, ordered_by = order_reports(reports)
    points = [_point(reports[i], i, labels[i] if labels else None) for i in order]
    ordered = [reports[i] for i in order]
    warnings: list[str] = []
    if ordered_by == "given":
        warnings.append("no uptime or system time in every header: reports taken in the "
                        "order given")
    for (a, b), (pa, pb) in zip(zip(ordered, ordered[1:]), zip(points, points[1:])):
        warnings.extend(_machine_warnings(a, b, pa, pb))
    seconds, basis = _elapsed(points[0], points[-1])

    totals = [{r["tag"]: r for r in tag_totals(rep)} for rep in ordered]
    partials = [partial_tags(rep) for rep in ordered]
    keys = {}
    for table in totals:
        for tag, row in table.items():
            keys.setdefault(tag, row["key"])
    # A tag with partial totals in some report has no count there (not 0): not judged.
    partial = [{"tag": tag, "key": keys[tag], "status": "partial",
                "points": [i for i, rows in enumerate(partials) if tag in rows]}
               for tag in sorted(keys) if any(tag in rows for rows in partials)]
    if partial:
        warnings.append(summarize_tags(partial, "have partial totals in some report (a tag-table "
                                       "page missing): growth not assessed"))
    growers = []
    for tag in keys.keys() - {p["tag"] for p in partial}:
        counts = [table[tag]["outstanding"] if tag in table else 0 for table in totals]
        nbytes = [table[tag]["bytes"] if tag in table else 0 for table in totals]
        steps = list(zip(zip(counts, counts[1:]), zip(nbytes, nbytes[1:])))
        monotonic = all(c1 >= c0 and b1 >= b0 for (c0, c1), (b0, b1) in steps)
        growth_bytes, growth_count = nbytes[-1] - nbytes[0], counts[-1] - counts[0]
        if not monotonic or (growth_bytes <= 0 and growth_count <= 0):
            continue
        strict = all(b1 > b0 or c1 > c0 for (c0, c1), (b0, b1) in steps)
        growers.append({
            "tag": tag, "key": keys[tag], "outstanding": counts, "bytes": nbytes,
            "growth_count": growth_count, "growth_bytes": growth_bytes,
            "growing": True, "strict": strict,
            "bytes_per_hour": _per_hour(growth_bytes, seconds),
            "outstanding_per_hour": _per_hour(growth_count, seconds),
        })
    growers.sort(key=lambda g: (-g["growth_bytes"], -g["growth_count"], g["tag"]))
    suspects = find_suspects(ordered[-1], t, growth=growers, only={"growth"})
    return {"points": points, "ordered_by": ordered_by, "elapsed_seconds": seconds,
            "rate_basis": basis, "tags": growers, "partial": partial, "suspects": suspects,
            "exit_status": exit_status(suspects, t), "warnings": warnings, "newest": order[-1]}


__all__ = ["diff_reports", "series", "order_reports"]
