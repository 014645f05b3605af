"""The report's ``pool_blocks`` section: every block the pool walk found, and the walk
checked against the kernel's own counters (the tag tables).

For each tag and tag-table kind (paged / nonpaged), the allocated blocks the walk
found (count and bytes) are compared with the tag tables' outstanding allocations and
bytes. A difference gets the likely cause (issue 9 §2):

* the walk found fewer blocks and pool pages were absent from the dump or failed to
  decode: "pages absent from the dump";
* fewer, and the tag has session-pool blocks: "session pool" (the session's own tag
  table counts them);
* fewer otherwise: "allocations in flight at the crash";
* more: "lookaside / delay-free caches: blocks freed but still cached look allocated".
"""
from __future__ import annotations

import numpy as np

from ..kernel.common import key_tag, tag_display
from ..kernel.poolblocks import POOL_NAMES, SESSION, PoolBlocks

CAUSE_ABSENT = "pages absent from the dump"
CAUSE_SESSION = "session pool"
CAUSE_IN_FLIGHT = "allocations in flight at the crash"
CAUSE_CACHED = "lookaside / delay-free caches: blocks freed but still cached look allocated"
MAX_HEADLINE_TAGS = 5


def block_rows(blocks: np.ndarray) -> list[dict]:
    """The schema's ``blocks`` rows (already sorted by address)."""
    tags: dict[int, str] = {}
    return [{"address": address, "size": size, "key": key,
             "tag": tags.get(key) or tags.setdefault(key, key_tag(key)),
             "pool": POOL_NAMES[pool], "allocated": allocated, "reachable": None}
            for address, size, key, pool, allocated in zip(
                blocks["address"].tolist(), blocks["size"].tolist(), blocks["key"].tolist(),
                blocks["pool"].tolist(), blocks["allocated"].tolist())]


def agreement(walk: PoolBlocks, tags: list[dict]) -> tuple[list[dict], dict]:
    """(agreement rows, coverage figures). ``tags``: the report's complete tag rows."""
    live = walk.blocks[walk.blocks["allocated"]]
    keys = live["key"] & np.uint32(0x7FFFFFFF)
    groups, inverse = np.unique(keys.astype(np.uint64) * np.uint64(2) + live["paged"],
                                return_inverse=True)
    counts = np.bincount(inverse, minlength=len(groups)).tolist()
    sizes = np.bincount(inverse, weights=live["size"].astype(np.float64), minlength=len(groups))
    found = {(group >> 1, bool(group & 1)): (count, int(size))
             for group, count, size in zip(groups.tolist(), counts, sizes.tolist())}
    session_keys = set(np.unique(keys[live["pool"] == SESSION]).tolist())
    damaged = bool(walk.counters.get("pages_absent") or walk.failures)
    table: dict[tuple[int, bool], tuple[int, int, int]] = {}
    for row in tags:
        key = row["key"] & 0x7FFFFFFF
        for paged, kind in ((True, "paged"), (False, "nonpaged")):
            count, nbytes = row[f"{kind}_outstanding"], row[f"{kind}_bytes"]
            if count or nbytes:
                table[(key, paged)] = (row["key"], count, nbytes)
    rows = []
    for key, paged in sorted(set(found) | set(table)):
        raw_key, t_count, t_bytes = table.get((key, paged), (key, 0, 0))
        w_count, w_bytes = found.get((key, paged), (0, 0))
        cause = None
        if (w_count, w_bytes) != (t_count, t_bytes):
            if w_count > t_count or (w_count == t_count and w_bytes > t_bytes):
                cause = CAUSE_CACHED
            elif damaged:
                cause = CAUSE_ABSENT
            elif key in session_keys:
                cause = CAUSE_SESSION
            else:
                cause = CAUSE_IN_FLIGHT
        rows.append({"key": raw_key, "tag": key_tag(raw_key), "pool": "paged" if paged else "nonpaged",
                     "walk_count": w_count, "walk_bytes": w_bytes, "table_count": t_count,
                     "table_bytes": t_bytes, "cause": cause})
    outstanding = sum(max(r["table_count"], 0) for r in rows)
    matched = sum(min(r["walk_count"], max(r["table_count"], 0)) for r in rows)
    differ = [r for r in rows if r["cause"]]
    coverage = {
        "tags": len({r["key"] & 0x7FFFFFFF for r in rows}),
        "rows": len(rows), "rows_agree": len(rows) - len(differ), "rows_differ": len(differ),
        "table_outstanding": outstanding, "walk_found": matched,
        "percent": round(100.0 * matched / outstanding, 2) if outstanding else 100.0,
        "blocks": int(len(walk.blocks)), "allocated": int(len(live)),
        "free": int(len(walk.blocks) - len(live)),
        "walk": dict(walk.counters), "decode_failures": dict(walk.failures)}
    return rows, coverage


def headline(section: dict) -> str:
    """"walk found 99.7% of outstanding allocations of 1,204 tags; 3 tags differ: ..." """
    coverage = section["coverage"]
    differ = [r for r in section["agreement"] if r["cause"]]
    text = (f"{section['walk']} walk found {coverage['percent']:g}% of outstanding allocations of "
            f"{coverage['tags']:,} tags")
    if not differ:
        return text + "; every tag agrees with the tag tables"
    shown = ", ".join(f"{tag_display(r['key'])} {r['pool']} {r['walk_count']}/{r['table_count']} "
                      f"({r['cause']})" for r in differ[:MAX_HEADLINE_TAGS])
    more = f", {len(differ) - MAX_HEADLINE_TAGS} more" if len(differ) > MAX_HEADLINE_TAGS else ""
    return f"{text}; {len(differ)} differ: {shown}{more}"
