"""Leak views: ``suspects`` (the ranked subjects of the leak report, call sites as child
rows) and ``callsites`` (outstanding verifier-tracked allocations by caller, the newest
allocation's stack as child rows)."""
from __future__ import annotations

from collections.abc import Mapping

from .match import driver_matcher, enough, owners_matcher, tag_matcher
from .model import Column, Row, Table, View
from .options import Query
from .pool import select_tags, tag_rows


def leaks_of(report: Mapping, query: Query) -> tuple[dict, list[str]]:
    """The report's ``leaks`` section, else one computed with the query's thresholds (and
    then its warnings, which nobody has shown yet)."""
    from ..analysis.leaks import analyze

    leaks = report.get("leaks")
    if isinstance(leaks, dict):
        return leaks, []
    leaks = analyze(report, query.thresholds())
    return leaks, list(leaks.get("warnings") or [])


def _site_rows(sites: list[dict]) -> list[Row]:
    """Call sites as ``suspects`` child rows."""
    rows = []
    for site in sites:
        evidence = []
        if site.get("stack"):
            named = (site.get("symbols") or []) + [None] * len(site["stack"])
            evidence = ["newest allocation's stack (trace log): "
                        + " <- ".join(s or f"{f:#x}" for f, s in zip(site["stack"], named))]
        rows.append(Row({"kind": "call site", "name": site.get("symbol") or f"{site['caller']:#x}",
                         "bytes": site["bytes"], "count": site["count"], "drivers": [site["driver"]],
                         "caller": site["caller"], "caller_symbol": site.get("symbol"),
                         "evidence": evidence}))
    return rows


# ---------------------------------------------------------------------------------------
# suspects

SUSPECT_COLUMNS = (
    Column("rank", "int", "The subject's rank"),
    Column("severity", "str", "high, medium or low; none for a top tag that no rule flags"),
    Column("kind", "str", "tag, driver, or (child rows) call site"),
    Column("name", "str", "The tag, driver or call site"),
    Column("bytes", "bytes", "Outstanding bytes"),
    Column("count", "int", "Outstanding allocations"),
    Column("nonpaged_bytes", "bytes", "Of them nonpaged", title="NonPagedBytes"),
    Column("paged_bytes", "bytes", "Of them paged"),
    Column("drivers", "list", "Owners (a tag), the driver (a driver or call site)"),
    Column("caller", "address", "The top caller (Driver Verifier tracking)"),
    Column("caller_symbol", "str", "Its symbol", title="CallerSymbol"),
    Column("rules", "list", "The rules that flag it (docs/analysis.md)"),
    Column("evidence", "list", "One line per rule", joiner=" | "),
)


def _subject(suspect: Mapping, tags: dict, drivers: dict) -> dict:
    from ..analysis.leaks import owner_names

    kind, name = suspect.get("kind", "tag"), suspect.get("name", "")
    nonpaged = paged = None
    owners = owner_names(suspect.get("drivers"))
    caller, symbol = suspect.get("caller"), suspect.get("caller_symbol")
    if kind == "tag" and name in tags:
        nonpaged, paged = tags[name]["nonpaged_bytes"], tags[name]["paged_bytes"]
    elif kind == "driver":
        owners = [name]
        summary = drivers.get(name) or {}
        nonpaged, paged = summary.get("nonpaged_bytes"), summary.get("paged_bytes")
        if summary.get("by_caller"):
            caller, symbol = summary["by_caller"][0]["caller"], summary["by_caller"][0]["symbol"]
    return {"severity": suspect.get("severity", "low"), "kind": kind, "name": name,
            "bytes": int(suspect.get("bytes", 0)), "count": int(suspect.get("count", 0)),
            "nonpaged_bytes": nonpaged, "paged_bytes": paged, "drivers": owners, "caller": caller,
            "caller_symbol": symbol, "rules": list(suspect.get("rules") or []),
            "evidence": [" ".join(str(e).split()) for e in suspect.get("evidence") or []]}


def select_suspects(report: Mapping, leaks: Mapping, query: Query) -> list[dict]:
    """The report's suspects (in their ranking) that pass ``--tag``/``--driver``/``--min-bytes``:
    a tag suspect by its name and owners, a driver suspect by its name and top tag."""
    from ..analysis.leaks import owner_names

    match_tag, match_driver = tag_matcher(query.tag), driver_matcher(query.driver)
    match_owners = owners_matcher(query.driver)
    owners = {r["tag"]: r.get("drivers") or [] for r in tag_rows(report)}
    kept = []
    for suspect in leaks.get("suspects") or []:
        if not enough(suspect.get("bytes", 0), query.min_bytes):
            continue
        if suspect.get("kind") == "tag":
            if not match_tag(suspect.get("name", "")):
                continue
            names = owner_names(suspect.get("drivers")) + owners.get(suspect.get("name", ""), [])
            if not match_owners(names):
                continue
        elif not match_driver(suspect.get("name", "")) or (query.tag and not match_tag(suspect.get("top_tag") or "")):
            continue
        kept.append(suspect)
    return kept


_SUBJECT_ORDER = {"total": lambda s: -s["bytes"], "allocs": lambda s: -s["count"],
                  "nonpaged": lambda s: -(s["nonpaged_bytes"] or 0), "paged": lambda s: -(s["paged_bytes"] or 0),
                  "tag": lambda s: s["name"]}


def build_suspects(report: Mapping, query: Query) -> Table:
    from ..analysis.leaks import call_sites, driver_summaries

    leaks, notes = leaks_of(report, query)
    tags = {r["tag"]: r for r in tag_rows(report, partial=False)}
    drivers = {d["name"]: d for d in driver_summaries(report, top=None)}
    chosen = select_suspects(report, leaks, query)
    subjects = [_subject(s, tags, drivers) for s in chosen]
    if not query.suspects_only:
        flagged = {s["name"] for s in chosen if s.get("kind") == "tag"}
        top_n = (leaks.get("thresholds") or {}).get("top_n", 20)
        others = select_tags(tag_rows(report, partial=False), Query(tag=query.tag, driver=query.driver,
                                                                    min_bytes=query.min_bytes))
        for row in [r for r in others if r["tag"] not in flagged and (r["allocs"] or r["frees"] or r["bytes"])][:top_n]:
            subjects.append({"severity": "none", "kind": "tag", "name": row["tag"], "bytes": row["bytes"],
                             "count": row["outstanding"], "nonpaged_bytes": row["nonpaged_bytes"],
                             "paged_bytes": row["paged_bytes"], "drivers": row["drivers"],
                             "caller": None, "caller_symbol": None, "rules": [],
                             "evidence": [f"{row['allocs']} allocations, {row['frees']} frees: "
                                          f"{row['outstanding']} outstanding"]})
    if query.sort is not None:
        order = _SUBJECT_ORDER[query.sort]
        subjects.sort(key=lambda s: (order(s), s["kind"], s["name"]))
    subjects = query.limit(subjects)
    rows = []
    for rank, subject in enumerate(subjects, 1):
        sites = call_sites(report, top=None, **({"driver": subject["name"]} if subject["kind"] == "driver"
                                                 else {"tag": subject["name"]}))
        if subject["caller"] is None and sites:
            subject["caller"], subject["caller_symbol"] = sites[0]["caller"], sites[0]["symbol"]
        children = _site_rows(sites)
        for child in children:
            child.values["rank"] = rank
        rows.append(Row(dict(subject, rank=rank), children))
    return Table(SUSPECTS, rows, {"leaks": leaks}, notes)


SUSPECTS = View(
    "suspects", "leak suspects",
    "Pool leak suspects (a tag or a verified driver that a rule flags), most severe first, "
    "with their rules and evidence; then, unless --suspects-only, the top tags that no rule "
    "flags (severity none). Child rows: the call sites holding the subject's outstanding "
    "allocations, with the newest allocation's stack.",
    SUSPECT_COLUMNS, ("tag", "driver", "min_bytes", "sort", "top", "suspects_only", "threshold"),
    build_suspects, layout="suspects")


# ---------------------------------------------------------------------------------------
# callsites

CALLSITE_COLUMNS = (
    Column("driver", "str", "The verified driver that allocated"),
    Column("caller", "address", "The return address in the driver (a frame row: the frame)"),
    Column("symbol", "str", "Its symbol"),
    Column("count", "int", "Outstanding allocations from this caller"),
    Column("bytes", "bytes", "Their bytes"),
    Column("tags", "list", "Their tags, most bytes first"),
    Column("traced", "int", "How many of them the trace log holds an allocate record for"),
)


def select_call_sites(report: Mapping, query: Query) -> list[dict]:
    from ..analysis.leaks import call_sites

    match_tag, match_driver = tag_matcher(query.tag), driver_matcher(query.driver)
    sites = [s for s in call_sites(report, top=None)
             if enough(s.get("bytes", 0), query.min_bytes) and match_driver(s.get("driver", ""))
             and (not query.tag or any(match_tag(t) for t in s.get("tags") or []))]
    if query.sort == "allocs":
        sites.sort(key=lambda s: (-s["count"], -s["bytes"]))
    return query.limit(sites)


def build_callsites(report: Mapping, query: Query) -> Table:
    rows = []
    for site in select_call_sites(report, query):
        stack = site.get("stack") or []
        named = (site.get("symbols") or []) + [None] * len(stack)
        rows.append(Row({"driver": site.get("driver"), "caller": site.get("caller", 0),
                         "symbol": site.get("symbol"), "count": site["count"], "bytes": site["bytes"],
                         "tags": list(site.get("tags") or []), "traced": site.get("traced", 0)},
                        [Row({"caller": f, "symbol": s}) for f, s in zip(stack, named)]))
    return Table(CALLSITES, rows)


CALLSITES = View(
    "callsites", "call sites",
    "Outstanding Driver Verifier-tracked allocations grouped by caller, most bytes first; "
    "the newest allocation's stack (trace log) as child rows.",
    CALLSITE_COLUMNS, ("tag", "driver", "min_bytes", "sort", "top"), build_callsites)


# ---------------------------------------------------------------------------------------
# hittag

HITTAG_COLUMNS = (
    Column("tag", "tag", "nt!PoolHitTag's tag (none when it holds its default)"),
    Column("key", "hex", "nt!PoolHitTag as stored"),
    Column("frame", "int", "A return address's position on the interrupted stack, innermost first"),
    Column("stack_address", "address", "Where on the stack it was found (the break row: the stack pointer)"),
    Column("address", "address", "The break's int 3 (the parent row) or the return address"),
    Column("symbol", "str", "Its symbol"),
    Column("note", "str", "What the row is; for a frame, the CALL instruction before it"),
)


def build_hittag(report: Mapping, query: Query) -> Table:
    from ..kernel.poolhittag import DEFAULT_POOL_HIT_TAG

    hit = report.get("pool_hit_tag")
    if not isinstance(hit, dict):
        return Table(HITTAG, [Row({"key": DEFAULT_POOL_HIT_TAG,
                                   "note": f"not set (nt!PoolHitTag holds its default {DEFAULT_POOL_HIT_TAG:#x})"})])
    tag, key = hit.get("tag", ""), hit.get("key", 0)
    brk = hit.get("break")
    if not isinstance(brk, dict):
        return Table(HITTAG, [Row({"tag": tag, "key": key,
                                   "note": "set; this dump was not written at a PoolHitTag break"})])
    check = (report.get("dump") or {}).get("bugcheck") or {}
    frames = brk.get("frames")
    returns = brk.get("return_addresses") or []
    children = []
    if isinstance(frames, list) and len(frames) == len(returns):
        for number, frame in enumerate(frames):
            note = frame.get("call") or ""
            if frame.get("callee_match"):
                note += ", calling the inner frame's function"
            children.append(Row({"tag": tag, "key": key, "frame": number, "stack_address": frame.get("stack_address"),
                                 "address": frame.get("return_address", 0), "symbol": frame.get("symbol"),
                                 "note": note or None}))
    else:
        symbols = brk.get("symbols") or []
        children = [Row({"tag": tag, "key": key, "frame": number, "address": address,
                         "symbol": symbols[number] if number < len(symbols) else None})
                    for number, address in enumerate(returns)]
    return Table(HITTAG, [Row({"tag": tag, "key": key, "stack_address": brk.get("stack_pointer"),
                               "address": brk.get("address", 0), "symbol": brk.get("symbol"),
                               "note": f"break: int 3 (bug check {check.get('code', 0):#x}, "
                                       "STATUS_BREAKPOINT 0x80000003)"}, children)])


HITTAG = View(
    "hittag", "PoolHitTag",
    "nt!PoolHitTag: the tag the pool code breaks on and, for a dump written at that break "
    "(bug check 0x1E with parameter 1 = 0x80000003: an int 3 in the pool code, no debugger "
    "attached), where it broke; the return addresses found on the interrupted thread's stack "
    "as child rows, innermost first.",
    HITTAG_COLUMNS, (), build_hittag)
