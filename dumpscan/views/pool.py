"""Pool views: ``pooltags`` (the ``!poolused`` table) and ``bigpool`` (PoolBigPageTable
by tag, with the blocks)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from .match import enough, owners_matcher, tag_matcher
from .model import Column, LazyRows, Row, Table, View
from .options import Query

_SORT_FIELDS = {"nonpaged": "nonpaged_bytes", "paged": "paged_bytes", "total": "bytes",
                "allocs": "outstanding"}


def sort_rows(rows: list[dict], sort: str | None) -> list[dict]:
    """Tag rows (``leaks.tag_row`` keys) biggest first by ``sort`` (default total bytes;
    ``tag``: by name), ties by total bytes then tag."""
    sort = sort or "total"
    if sort == "tag":
        return sorted(rows, key=lambda r: r["tag"])
    field = _SORT_FIELDS[sort]
    return sorted(rows, key=lambda r: (-r.get(field, 0), -r.get("bytes", 0), r["tag"]))


def tag_rows(report: Mapping, *, partial: bool = True) -> list[dict]:
    """Every tag of the report as ``leaks.tag_row`` gives it, then (``partial``) the tags
    whose totals are partial (``tags_partial``, marked ``partial``)."""
    from ..analysis.leaks import tag_row

    rows = [dict(tag_row(r), partial=False) for r in report.get("tags") or [] if isinstance(r, dict)]
    if partial:
        rows += [dict(tag_row(r), partial=True) for r in report.get("tags_partial") or []
                 if isinstance(r, dict)]
    return rows


def select_tags(rows: list[dict], query: Query) -> list[dict]:
    """Tag rows kept by ``--tag``/``--driver``/``--min-bytes``, sorted, cut to ``--top``."""
    match_tag, match_owners = tag_matcher(query.tag), owners_matcher(query.driver)
    picked = [r for r in rows if match_tag(r["tag"]) and enough(r.get("bytes", 0), query.min_bytes)
              and match_owners(r.get("drivers") or [])]
    picked = sort_rows(picked, query.sort)
    return query.limit(picked)


# ---------------------------------------------------------------------------------------
# pooltags

TAG_COLUMNS = (
    Column("tag", "tag", "The pool tag"),
    Column("key", "hex", "The tag as the 32-bit Key the tables store"),
    Column("nonpaged_allocs", "int", "Nonpaged allocations counted", title="NonPagedAllocs"),
    Column("nonpaged_frees", "int", "Nonpaged frees counted", title="NonPagedFrees"),
    Column("nonpaged_outstanding", "int", "Nonpaged allocations outstanding (allocs - frees)",
           title="NonPagedOutstanding"),
    Column("nonpaged_bytes", "bytes", "Nonpaged bytes in use", title="NonPagedBytes"),
    Column("paged_allocs", "int", "Paged allocations counted"),
    Column("paged_frees", "int", "Paged frees counted"),
    Column("paged_outstanding", "int", "Paged allocations outstanding (allocs - frees)"),
    Column("paged_bytes", "bytes", "Paged bytes in use"),
    Column("outstanding", "int", "Outstanding allocations, nonpaged + paged"),
    Column("bytes", "bytes", "Bytes in use, nonpaged + paged"),
    Column("drivers", "list", "The tag's owners (verifier-tracked callers, pooltag.txt, tag bytes in a driver image)"),
    Column("partial", "bool", "A tag-table page is absent: the counters are a lower bound, not a total"),
)


def build_pooltags(report: Mapping, query: Query) -> Table:
    rows = select_tags(tag_rows(report), query)
    return Table(POOLTAGS, [Row.of(TAG_COLUMNS, r) for r in rows],
                 {"sort": query.sort or "total", "query": query})


POOLTAGS = View(
    "pooltags", "!poolused",
    "Per-tag pool usage as !poolused sums it over PoolTrackTable, the per-processor tables "
    "and the expansion table: allocations, frees, outstanding, bytes, owners.",
    TAG_COLUMNS, ("tag", "driver", "min_bytes", "sort", "top"), build_pooltags, layout="poolused")


# ---------------------------------------------------------------------------------------
# bigpool

BIGPOOL_COLUMNS = (
    Column("tag", "tag", "The pool tag"),
    Column("blocks", "int", "Live blocks of the tag", flat=False),
    Column("bytes", "bytes", "Bytes: of the tag's live blocks (group), of the block (block)"),
    Column("largest", "bytes", "The tag's largest live block", flat=False),
    Column("address", "address", "The block's virtual address"),
    Column("key", "hex", "The block's Key (the tag as stored)"),
    Column("pool_type", "hex", "The block's pool type bits as stored"),
    Column("pool_types", "list", "Pool types of the tag's blocks", flat=False),
    Column("drivers", "list", "The tag's owners"),
)


def build_bigpool(report: Mapping, query: Query) -> Table:
    from ..analysis.leaks import bigpool_by_tag

    match_tag, match_owners = tag_matcher(query.tag), owners_matcher(query.driver)
    owners = {r["tag"]: r["drivers"] for r in tag_rows(report)}
    table = [b for b in report.get("bigpool") or [] if isinstance(b, dict)]
    live = [b for b in table if not b.get("free")]
    blocks = [b for b in live if match_tag(b.get("tag", "")) and enough(b.get("bytes", 0), query.min_bytes)
              and match_owners(owners.get(b.get("tag", ""), []))]
    filtered = bool(query.tag or query.driver or query.min_bytes)
    groups = bigpool_by_tag({"bigpool": blocks} if filtered else report, top=None)
    if query.sort == "tag":
        groups.sort(key=lambda g: g["tag"])
    elif query.sort == "allocs":
        groups.sort(key=lambda g: (-g["count"], -g["bytes"], g["tag"]))
    elif query.sort in ("nonpaged", "paged"):
        groups.sort(key=lambda g: (-g.get(f"{query.sort}_bytes", 0), -g["bytes"], g["tag"]))
    groups = query.limit(groups)
    by_tag: dict[str, list[dict]] = defaultdict(list)
    wanted = {g["tag"] for g in groups}
    for block in blocks:
        if block.get("tag", "") in wanted:
            by_tag[block.get("tag", "")].append(block)
    rows = []
    for group in groups:
        tag = group["tag"]
        children = LazyRows(lambda tag=tag: [
            Row({"tag": tag, "bytes": b.get("bytes", 0), "address": b.get("va", 0), "key": b.get("key"),
                 "pool_type": b.get("pool_type", 0), "drivers": owners.get(tag, [])})
            for b in sorted(by_tag.get(tag, []), key=lambda b: b.get("va", 0))])
        rows.append(Row({"tag": tag, "blocks": group["count"], "bytes": group["bytes"],
                         "largest": group["largest"], "key": group.get("key"),
                         "pool_types": [f"{t:#x}" for t in group.get("pool_types") or []],
                         "drivers": owners.get(tag, [])}, children))
    context = {"live_blocks": len(live),
               "live_bytes": sum(b.get("bytes", 0) for b in live), "free_entries": len(table) - len(live),
               "filtered": filtered, "query": query}
    return Table(BIGPOOL, rows, context)


BIGPOOL = View(
    "bigpool", "big pool",
    "Live big-pool blocks (PoolBigPageTable) grouped by tag, largest total first; each "
    "group's blocks by address as its child rows (CSV and JSON list the blocks).",
    BIGPOOL_COLUMNS, ("tag", "driver", "min_bytes", "sort", "top"), build_bigpool, flat_depth=1,
    layout="bigpool")
