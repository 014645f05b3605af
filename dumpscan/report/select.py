"""Selecting and ordering the rows of a report for display: what the command line's
``--tag``/``--driver``/``--min-bytes``/``--sort``/``--top``/``--address`` options and the
Volatility plugins' options of the same names do.

Pure functions over a ``dumpscan.report/1`` dict (a truth file or an engine report);
nothing here reads a dump. Tag patterns are ``!poolused`` wildcards (``Lea*``, ``?eak``;
case-sensitive, as pool tags are); driver patterns match a module name case-insensitively,
with or without its extension (``myfault`` and ``MyFault.sys`` both match ``myfault.sys``),
and may use the same wildcards.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ..analysis.leaks import (bigpool_by_tag, call_sites, driver_summaries, machine, owner_names,
                              tag_row, tag_totals)
from .render_text import tag_matcher, wildcard_regex

SORTS = ("nonpaged", "paged", "total", "allocs", "tag")


def driver_matcher(patterns: Iterable[str] | str | None):
    """A predicate over driver names; None/empty patterns match everything."""
    if patterns is None:
        return lambda name: True
    if isinstance(patterns, str):
        patterns = [patterns]
    compiled = []
    for pattern in patterns:
        regex = wildcard_regex(pattern)
        if "." not in pattern:  # no extension given: any extension
            regex += r"(\.[^.]*)?"
        compiled.append(re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL))
    if not compiled:
        return lambda name: True
    return lambda name: any(r.match(name or "") for r in compiled)


def _enough(nbytes: int, min_bytes: int) -> bool:
    """``--min-bytes``: 0 (the default) keeps every row, even a negative (corrupt) total."""
    return min_bytes <= 0 or nbytes >= min_bytes


def _any_owner(match, names: Iterable[str]) -> bool:
    return any(match(n) for n in names)


# ---------------------------------------------------------------------------------------
# Tags (the !poolused table)

def tag_rows(report: Mapping) -> list[dict]:
    """Every tag of ``report['tags']`` (the raw counters, including tags with no activity)
    as :func:`dumpscan.analysis.leaks.tag_row` gives it (the report's width-aware
    ``*_outstanding`` when present)."""
    return [tag_row(row) for row in report.get("tags") or []]


def sort_rows(rows: list[dict], sort: str = "total") -> list[dict]:
    """Rows with tag-row keys, biggest first (``tag``: by name)."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r} (one of {', '.join(SORTS)})")
    if sort == "tag":
        return sorted(rows, key=lambda r: r["tag"])
    field = {"nonpaged": "nonpaged_bytes", "paged": "paged_bytes", "total": "bytes",
             "allocs": "outstanding"}[sort]
    return sorted(rows, key=lambda r: (-r.get(field, 0), -r.get("bytes", 0), r["tag"]))


def select_tags(rows: Iterable[dict], *, tags: Sequence[str] | None = None,
                drivers: Sequence[str] | None = None, min_bytes: int = 0, sort: str = "total",
                top: int | None = None) -> list[dict]:
    """Filter (tag patterns, owning-driver patterns, at least ``min_bytes`` in use), sort, cut."""
    match_tag = tag_matcher(tags or None)
    match_driver = driver_matcher(drivers or None)
    picked = [r for r in rows if match_tag(r["tag"]) and _enough(r.get("bytes", 0), min_bytes)
              and (not drivers or _any_owner(match_driver, r.get("drivers") or []))]
    picked = sort_rows(picked, sort)
    return picked[:top] if top is not None else picked


# ---------------------------------------------------------------------------------------
# Driver Verifier

def select_verifier(report: Mapping, *, tags: Sequence[str] | None = None,
                    drivers: Sequence[str] | None = None, min_bytes: int = 0) -> dict | None:
    """A copy of ``report['verifier']`` keeping the drivers matching ``drivers`` and, of
    their allocations, those whose tag matches ``tags`` and length is at least
    ``min_bytes`` (None when Driver Verifier is off)."""
    verifier = report.get("verifier")
    if not isinstance(verifier, dict):
        return None
    match_tag = tag_matcher(tags or None)
    match_driver = driver_matcher(drivers or None)
    out = dict(verifier)
    kept = []
    for driver in verifier.get("drivers") or []:
        if not match_driver(driver.get("name", "")):
            continue
        driver = dict(driver)
        driver["allocations"] = [a for a in driver.get("allocations") or []
                                 if match_tag(a.get("tag", "")) and _enough(a.get("length", 0), min_bytes)]
        kept.append(driver)
    out["drivers"] = kept
    return out


# ---------------------------------------------------------------------------------------
# The trace log (!verifier 80)

def parse_address(text: str | int) -> int:
    """An address as the debugger takes it: ``0x9ca00000``, ``9ca00000``,
    ``fffff800`016530fc`` (hex with or without 0x, backticks ignored)."""
    if isinstance(text, int):
        return text
    cleaned = str(text).strip().replace("`", "").replace("_", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned or not re.fullmatch(r"[0-9a-fA-F]+", cleaned) or len(cleaned) > 16:
        raise ValueError(f"not an address: {text!r} (hex, e.g. 0x9ca00000 or fffff800`016530fc)")
    return int(cleaned, 16)


def canonical_address(value: int, arch: str) -> int:
    """x64: a 48-bit address with bit 47 set gets its upper 16 bits set (the report's
    addresses are canonical); x86: the low 32 bits."""
    if arch == "x86":
        return value & 0xFFFFFFFF
    value &= 0xFFFFFFFFFFFFFFFF
    if value >> 48 == 0 and value & (1 << 47):
        value |= 0xFFFF << 48
    return value


def history(report: Mapping, address: int | None = None, count: int | None = None) -> list[dict]:
    """Trace-log records newest first, as ``!verifier 80`` prints them: those of the block
    at ``address`` (records whose address equals it), or the ``count`` newest."""
    verifier = report.get("verifier")
    if not isinstance(verifier, dict):
        return []
    records = [r for r in reversed(verifier.get("trace_log") or []) if isinstance(r, dict)]
    if address is not None:
        arch = machine(report)
        wanted = canonical_address(address, arch)
        records = [r for r in records if canonical_address(r.get("address", 0), arch) == wanted]
    return records[:count] if count is not None else records


# ---------------------------------------------------------------------------------------
# The leak report

def select_leaks(report: Mapping, leaks: Mapping, *, tags: Sequence[str] | None = None,
                 drivers: Sequence[str] | None = None, min_bytes: int = 0,
                 sort: str = "total", top: int | None = None) -> dict:
    """A copy of a ``leaks`` section narrowed to matching tags/drivers: suspects (kept in
    their ranking), tags (recomputed from the whole report, then sorted by ``sort``), call
    sites, big pool by tag, verified drivers; each cut to ``top``."""
    match_tag = tag_matcher(tags or None)
    match_driver = driver_matcher(drivers or None)
    owners = {r["tag"]: r.get("drivers") or [] for r in tag_rows(report)}
    for r in tag_totals(report):  # owner names as leaks sees them
        owners.setdefault(r["tag"], owner_names(r.get("drivers")))
    cut = (lambda rows: rows[:top]) if top is not None else (lambda rows: rows)

    def tag_ok(tag: str) -> bool:
        return match_tag(tag) and (not drivers or _any_owner(match_driver, owners.get(tag, [])))

    suspects = []
    for suspect in leaks.get("suspects") or []:
        if not _enough(suspect.get("bytes", 0), min_bytes):
            continue
        if suspect.get("kind") == "tag":
            if not match_tag(suspect.get("name", "")):
                continue
            if drivers and not _any_owner(match_driver, list(suspect.get("drivers") or [])
                                          + owners.get(suspect.get("name", ""), [])):
                continue
        else:
            if not match_driver(suspect.get("name", "")):
                continue
            if tags and not match_tag(suspect.get("top_tag") or ""):
                continue
        suspects.append(suspect)

    tag_list = [dict(r, drivers=owner_names(r.get("drivers"))) for r in tag_totals(report)]
    tag_list = select_tags(tag_list, tags=tags, drivers=drivers, min_bytes=min_bytes, sort=sort,
                           top=top if top is not None else (leaks.get("thresholds") or {}).get("top_n"))
    sites = [s for s in call_sites(report, top=None)
             if _enough(s.get("bytes", 0), min_bytes) and match_driver(s.get("driver", ""))
             and (not tags or any(match_tag(t) for t in s.get("tags") or []))]
    big = [g for g in bigpool_by_tag(report, top=None) if _enough(g["bytes"], min_bytes) and tag_ok(g["tag"])]
    if sort == "tag":
        big.sort(key=lambda g: g["tag"])
    elif sort == "allocs":
        big.sort(key=lambda g: (-g["count"], -g["bytes"], g["tag"]))
    driver_list = [d for d in driver_summaries(report, top=top)
                   if match_driver(d["name"]) and _enough(d["bytes"], min_bytes)
                   and (not tags or any(match_tag(g["tag"]) for g in d.get("by_tag") or []))]
    out = dict(leaks)
    out.update(suspects=suspects, tags=tag_list, call_sites=cut(sites), bigpool=cut(big),
               drivers=cut(driver_list))
    return out


def select_bigpool(report: Mapping, *, tags: Sequence[str] | None = None,
                   drivers: Sequence[str] | None = None, min_bytes: int = 0,
                   free: bool = False) -> list[dict]:
    """Big-pool table entries (live only unless ``free``) matching the filters, by address."""
    match_tag = tag_matcher(tags or None)
    match_driver = driver_matcher(drivers or None)
    owners = {r["tag"]: r["drivers"] for r in tag_rows(report)}
    return [b for b in report.get("bigpool") or []
            if (free or not b.get("free")) and match_tag(b.get("tag", ""))
            and _enough(b.get("bytes", 0), min_bytes)
            and (not drivers or _any_owner(match_driver, owners.get(b.get("tag", ""), [])))]


__all__ = ["SORTS", "owner_names", "driver_matcher", "tag_rows", "sort_rows", "select_tags",
           "select_verifier", "parse_address", "canonical_address", "history", "select_leaks",
           "select_bigpool"]
