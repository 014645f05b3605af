"""Totals the ``!poolused`` way, and the big-pool table grouped by tag and checked
against them. Pure functions over the readers' records (numpy in, plain rows out).
"""
from __future__ import annotations

import numpy as np

from ..kernel.bigpool import BigPoolTable
from ..kernel.common import key_tag, tag_display
from ..kernel.tagtables import TagTotals


def outstanding(allocs: int, frees: int, bits: int) -> int:
    """allocs - frees in the counters' own width, read as signed (the counters are
    sums modulo 2^bits, so the difference is too)."""
    value = (int(allocs) - int(frees)) % (1 << bits)
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def tag_rows(totals: TagTotals) -> list[dict]:
    """One row per key, sorted by key: the schema's six counters plus
    ``paged_outstanding`` / ``nonpaged_outstanding`` (allocs - frees)."""
    keys = totals.keys.tolist()
    columns = {name: values.tolist() for name, values in totals.values.items()}
    paged_bits = totals.widths["paged_allocs"]
    nonpaged_bits = totals.widths["nonpaged_allocs"]
    rows = []
    for i, key in enumerate(keys):
        row = {"key": key, "tag": key_tag(key)}
        for name, values in columns.items():
            row[name] = values[i]
        row["paged_outstanding"] = outstanding(row["paged_allocs"], row["paged_frees"], paged_bits)
        row["nonpaged_outstanding"] = outstanding(row["nonpaged_allocs"], row["nonpaged_frees"],
                                                  nonpaged_bits)
        rows.append(row)
    return rows


def bigpool_rows(table: BigPoolTable) -> list[dict]:
    """The schema's big-pool rows (Key != 0), sorted by address (table order on ties)."""
    entries = table.entries
    order = np.argsort(entries["va"], kind="stable")
    entries = entries[order]
    vas, keys, types = entries["va"].tolist(), entries["key"].tolist(), entries["pool_type"].tolist()
    sizes, frees = entries["bytes"].tolist(), entries["free"].tolist()
    tags: dict[int, str] = {}
    rows = []
    if table.has_process_billed:
        billed = entries["process_billed"].tolist()
        for va, key, pool_type, size, free, process in zip(vas, keys, types, sizes, frees, billed):
            tag = tags.get(key) or tags.setdefault(key, key_tag(key))
            rows.append({"va": va, "key": key, "tag": tag, "bytes": size, "pool_type": pool_type,
                         "free": free, "process_billed": process})
    else:
        for va, key, pool_type, size, free in zip(vas, keys, types, sizes, frees):
            tag = tags.get(key) or tags.setdefault(key, key_tag(key))
            rows.append({"va": va, "key": key, "tag": tag, "bytes": size, "pool_type": pool_type,
                         "free": free})
    return rows


def bigpool_by_tag(table: BigPoolTable, totals: TagTotals | None) -> tuple[list[dict], list[str]]:
    """Live big-pool blocks per tag and pool kind, cross-checked against the tag tables:
    a tag cannot have more live big blocks (or bytes) of a kind than the tag tables count
    outstanding for it. Session blocks (PoolType & the session bit, doc §1.4) are left out of the check (the
    session's own tag table counts them, doc §2.3)."""
    entries = table.entries[~table.entries["free"]]
    warnings: list[str] = []
    if not len(entries):
        return [], warnings
    keys = entries["key"] & np.uint32(0x7FFFFFFF)
    # the PoolType bits come from the ISF's _POOL_TYPE enum (BigPoolTable.paged_bit/session_bit)
    paged = (entries["pool_type"] & np.uint32(table.paged_bit)) != 0
    session = (entries["pool_type"] & np.uint32(table.session_bit)) != 0
    sizes = entries["bytes"].astype(np.uint64)
    distinct, inverse = np.unique(keys, return_inverse=True)
    n = len(distinct)

    def total(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros(n, dtype=np.uint64)
        np.add.at(out, inverse[mask], weights[mask] if weights is not None else np.uint64(1))
        return out

    p_count, n_count = total(paged & ~session), total(~paged & ~session)
    p_bytes, n_bytes = total(paged & ~session, sizes), total(~paged & ~session, sizes)
    s_count, s_bytes = total(session), total(session, sizes)
    tag_index: dict[int, int] = {}
    if totals is not None:
        tag_index = {k & 0x7FFFFFFF: i for i, k in enumerate(totals.keys.tolist())}
    rows: list[dict] = []
    inconsistent: list[str] = []
    for i, key in enumerate(distinct.tolist()):
        row = {"key": key, "tag": key_tag(key),
               "paged_blocks": int(p_count[i]), "paged_bytes": int(p_bytes[i]),
               "nonpaged_blocks": int(n_count[i]), "nonpaged_bytes": int(n_bytes[i]),
               "session_blocks": int(s_count[i]), "session_bytes": int(s_bytes[i])}
        if totals is not None:
            j = tag_index.get(key)
            if j is None:
                row["tag_tables"] = None
                if (p_count[i] or n_count[i]) and totals.complete:
                    row["consistent"] = False
                    inconsistent.append(f"{tag_display(key)} (not in the tag tables)")
            elif totals.is_partial(j):
                row["tag_tables"] = None  # its tag-table totals are partial: no verdict
            else:
                counts = {name: int(values[j]) for name, values in totals.values.items()}
                p_out = outstanding(counts["paged_allocs"], counts["paged_frees"],
                                    totals.widths["paged_allocs"])
                n_out = outstanding(counts["nonpaged_allocs"], counts["nonpaged_frees"],
                                    totals.widths["nonpaged_allocs"])
                ok = (p_count[i] <= max(p_out, 0) and n_count[i] <= max(n_out, 0)
                      and p_bytes[i] <= max(counts["paged_bytes"], 0)
                      and n_bytes[i] <= max(counts["nonpaged_bytes"], 0))
                row["tag_tables"] = {"paged_outstanding": p_out, "paged_bytes": counts["paged_bytes"],
                                     "nonpaged_outstanding": n_out,
                                     "nonpaged_bytes": counts["nonpaged_bytes"]}
                row["consistent"] = bool(ok)
                if not ok:
                    inconsistent.append(tag_display(key))
        rows.append(row)
    if inconsistent:
        shown = ", ".join(inconsistent[:8]) + (" ..." if len(inconsistent) > 8 else "")
        warnings.append(f"big pool vs tag tables: {len(inconsistent)} tags have more live big-pool "
                        f"blocks or bytes than the tag tables count outstanding: {shown}")
    rows.sort(key=lambda r: -(r["paged_bytes"] + r["nonpaged_bytes"] + r["session_bytes"]))
    return rows, warnings
