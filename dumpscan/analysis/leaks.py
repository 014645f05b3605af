"""Leak analysis over a ``dumpscan.report/1`` dict: rankings, call sites, suspects.

Pure functions: the input is a report dict (a truth file or the engine's report),
the output is plain JSON-serialisable dicts, meant to go under the report's
``leaks`` key (docs/report-schema.md, "leaks"). Analyzer extras of the engine
(``header``, per-tag ``drivers``, trace-record ``symbols``, ...) are used when
present and never required.

The suspect rules (each gives one line of evidence; a subject hit by several
rules gets one suspect with all of them):

* ``few_frees``      a tag with at least ``min_outstanding`` outstanding allocations,
  frees at most ``max_free_ratio`` of its allocations, and ``min_bytes`` outstanding;
* ``call_site``      one caller holds ``call_site_share`` of a tag's outstanding bytes
  (Driver Verifier tracking; at least ``min_bytes``);
* ``driver_dominates`` a verified driver holds ``driver_share`` of all outstanding
  verifier-tracked bytes (at least ``min_bytes``);
* ``unloaded_with_allocations`` a verified driver that is not loaded still has
  outstanding allocations (the classic leak, bug check 0xC4/0x62);
* ``bigpool_dominates`` one tag holds ``bigpool_share`` of the live big-pool bytes;
* ``growth``         outstanding counts/bytes of a tag grow across a series of dumps
  of one machine (:func:`dumpscan.analysis.diff.series`);
* ``pool_hit_tag``   ``nt!PoolHitTag`` names the tag (someone was already chasing it).
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone

from ..dumpfile.headers import FILETIME_UNIX_EPOCH
from ..kernel.poolhittag import DEFAULT_POOL_HIT_TAG

MiB = 1 << 20
SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class Thresholds:
    """Tunables of the suspect rules and of :func:`exit_status` (defaults in brackets)."""

    min_bytes: int = MiB              # a suspect must hold at least this many bytes [1 MiB]
    min_outstanding: int = 4          # few_frees: at least this many outstanding allocations
    max_free_ratio: float = 0.10      # few_frees: frees <= this fraction of allocations
    call_site_share: float = 0.80     # call_site: one caller's share of the tag's bytes
    driver_share: float = 0.50        # driver_dominates: share of verifier-tracked bytes
    bigpool_share: float = 0.50       # bigpool_dominates: share of live big-pool bytes
    growth_min_bytes: int = MiB       # growth: outstanding bytes gained over the series
    growth_min_count: int = 1000      # growth: ... or outstanding allocations gained
    top_n: int = 20                   # length of the ranked lists under ``leaks``
    exit_min_bytes: int = MiB         # exit_status: a suspect this big fails the run ...
    exit_severity: str = "medium"     # ... when at least this severe

    def __post_init__(self) -> None:
        """Every value checked: a NaN share or a zero ``top_n`` would silently switch a
        rule off (or list nothing), so bad values raise ``ValueError`` naming the key."""
        for name, (low, high, low_open) in _THRESHOLD_RANGES.items():
            value = getattr(self, name)
            kind = type(getattr(Thresholds, name))
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or (kind is int and not isinstance(value, int)):
                raise ValueError(f"threshold {name}={value!r}: expected {'an integer' if kind is int else 'a number'}")
            if not math.isfinite(value):
                raise ValueError(f"threshold {name}={value!r}: must be a finite number")
            if value < low or (low_open and value == low) or (high is not None and value > high):
                where = (f"in ({low}, {high}]" if low_open else f"in [{low}, {high}]") if high is not None \
                    else (f"> {low}" if low_open else f">= {low}")
                raise ValueError(f"threshold {name}={value!r}: must be {where}")
        if self.exit_severity not in SEVERITIES:
            raise ValueError(f"threshold exit_severity={self.exit_severity!r}: must be one of "
                             f"{', '.join(SEVERITIES)}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> "Thresholds":
        """Build from a config mapping (values may be strings); unknown keys, values that
        do not convert and values out of range (see ``_THRESHOLD_RANGES``) raise
        ``ValueError`` naming the key."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(sorted(unknown))}")
        converted = {}
        for name, value in values.items():
            kind = type(getattr(cls, name))
            try:
                if kind is str:
                    converted[name] = str(value).strip().lower()
                elif kind is int and isinstance(value, str):
                    converted[name] = int(value.strip(), 0)
                else:
                    converted[name] = kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"threshold {name}={value!r}: expected "
                                 f"{'an integer' if kind is int else 'a number'}") from None
        return cls(**converted)

    def as_dict(self) -> dict:
        return asdict(self)


# name -> (lowest, highest or None, lowest excluded): shares are fractions of a whole.
_THRESHOLD_RANGES = {
    "min_bytes": (1, None, False), "min_outstanding": (1, None, False),
    "max_free_ratio": (0.0, 1.0, False), "call_site_share": (0.0, 1.0, True),
    "driver_share": (0.0, 1.0, True), "bigpool_share": (0.0, 1.0, True),
    "growth_min_bytes": (0, None, False), "growth_min_count": (0, None, False),
    "top_n": (1, None, False), "exit_min_bytes": (0, None, False),
}


# ---------------------------------------------------------------------------------------
# Tolerant accessors (the engine's extras may be absent)

def report_header(report: Mapping) -> dict:
    header = report.get("header")
    return header if isinstance(header, dict) else {}


def machine(report: Mapping) -> str:
    """'x64' or 'x86' (dump.machine, else the header, else x64)."""
    value = (report.get("dump") or {}).get("machine") or report_header(report).get("machine")
    return value if value in ("x64", "x86") else "x64"


def pointer_size(report: Mapping) -> int:
    return 4 if machine(report) == "x86" else 8


def uptime_seconds(report: Mapping) -> float | None:
    """``header.uptime_seconds`` (the dump header's SystemUpTime), when known."""
    header = report_header(report)
    for name in ("uptime_seconds", "uptime"):
        value = header.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return None


def crash_time(report: Mapping) -> float | None:
    """The crash time as POSIX seconds: ``header.system_time`` as a FILETIME integer or
    an ISO-8601 string (``crash_time`` is accepted too), when known."""
    header = report_header(report)
    for name in ("system_time", "crash_time"):
        value = header.get(name)
        if isinstance(value, bool) or value in (None, 0, ""):
            continue
        if isinstance(value, (int, float)):
            if value > 10**15:  # FILETIME (100 ns since 1601)
                return (value - FILETIME_UNIX_EPOCH) / 1e7
            return float(value)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed.timestamp()
    return None


def kernel_build(report: Mapping) -> str | None:
    """The kernel build as the header gives it (e.g. '10.0.19041.450'), else the
    kernel PDB name with its GUID/age, else None."""
    header = report_header(report)
    for name in ("kernel_build", "build", "kernel_version", "os_build"):
        value = header.get(name)
        if value not in (None, ""):
            return str(value)
    kernel = report.get("kernel") or {}
    if kernel.get("pdb"):
        return f"{kernel['pdb']} {kernel.get('guid', '?')}/{kernel.get('age', '?')}"
    return None


def report_label(report: Mapping, default: str = "report") -> str:
    header = report_header(report)
    for name in ("dump", "dump_file", "file", "path", "name"):
        value = header.get(name)
        if isinstance(value, str) and value:
            return value
    return default


def bugcheck(report: Mapping) -> tuple[int, list[int]] | None:
    check = (report.get("dump") or {}).get("bugcheck")
    if not isinstance(check, dict) or "code" not in check:
        return None
    return int(check["code"]), [int(p) for p in check.get("parameters") or []]


def format_address(value: int, arch: str | int = "x64", *, prefix: bool = False) -> str:
    """An address as the debugger's ``%p`` prints it: ``9d2fb000`` (x86, 8 digits) or
    ``fffff800`016530fc`` (x64, 16 digits, backtick between the halves); ``prefix`` adds
    ``0x``. ``arch``: 'x86'/'x64' or a pointer size (4/8)."""
    if arch in ("x86", 4):
        text = f"{value & 0xFFFFFFFF:08x}"
    else:
        digits = f"{value & 0xFFFFFFFFFFFFFFFF:016x}"
        text = f"{digits[:8]}`{digits[8:]}"
    return "0x" + text if prefix else text


def display_tag(tag: str) -> str:
    """A tag for printing: non-printable characters become '.' (as ``dc`` shows them)."""
    return "".join(c if c.isprintable() else "." for c in (tag or ""))


def outstanding(allocs: int, frees: int) -> int:
    """allocs - frees when the counters' width is unknown (a truth file, a hand-made
    report). Counters are summed modulo their width; when the difference is negative and
    both fit in 32 bits, a 32-bit Allocs counter wrapped: add 2**32 if that gives a
    plausible (< 2**31) count. Anything else stays negative (corruption). The engine's
    reports carry the width-aware value (``dumpscan.analysis.totals.outstanding``) as
    ``paged_outstanding``/``nonpaged_outstanding``: :func:`tag_row` prefers it."""
    value = int(allocs) - int(frees)
    if value < 0 and 0 <= allocs < 1 << 32 and 0 <= frees < 1 << 32 and value + (1 << 32) < 1 << 31:
        value += 1 << 32
    return value


def tag_row(row: Mapping) -> dict:
    """One ``tags`` row of a report with its derived totals, the one place they are
    computed: ``paged_``/``nonpaged_outstanding`` (the report's own, width-aware values
    when present, else :func:`outstanding`), ``outstanding``, ``bytes`` (paged +
    nonpaged), ``allocs``, ``frees`` and ``drivers`` (owner names)."""
    out = {"tag": row.get("tag", ""), "key": row.get("key", 0)}
    for kind in ("nonpaged", "paged"):
        allocs, frees = row.get(f"{kind}_allocs", 0), row.get(f"{kind}_frees", 0)
        out[f"{kind}_allocs"], out[f"{kind}_frees"] = allocs, frees
        given = row.get(f"{kind}_outstanding")
        out[f"{kind}_outstanding"] = given if isinstance(given, int) and not isinstance(given, bool) \
            else outstanding(allocs, frees)
        out[f"{kind}_bytes"] = row.get(f"{kind}_bytes", 0)
    out["outstanding"] = out["nonpaged_outstanding"] + out["paged_outstanding"]
    out["bytes"] = out["nonpaged_bytes"] + out["paged_bytes"]
    out["allocs"] = out["nonpaged_allocs"] + out["paged_allocs"]
    out["frees"] = out["nonpaged_frees"] + out["paged_frees"]
    out["drivers"] = owner_names(row.get("drivers"))
    return out


def owner_names(value) -> list[str]:
    """Owner names from an engine extra (strings, or dicts with name/module/driver),
    each once, in first-seen order: one driver found by two sources is one owner."""
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        value = [value]
    names = []
    for item in value:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            name = item.get("name") or item.get("module") or item.get("driver")
            if name:
                names.append(str(name))
    return list(dict.fromkeys(names))


def human_bytes(value: int) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{sign}{value} {unit}" if unit == "bytes" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    return f"{sign}{value}"  # pragma: no cover


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


# ---------------------------------------------------------------------------------------
# Rankings

def tag_totals(report: Mapping) -> list[dict]:
    """Per-tag outstanding allocations and bytes (the ``!poolused`` model), ranked by
    outstanding bytes (paged + nonpaged), then outstanding count, then tag. Tags with no
    activity at all (e.g. the empty 'Ovfl' bucket) are left out."""
    rows = []
    for row in report.get("tags") or []:
        full = tag_row(row)
        if not (full["allocs"] or full["frees"] or full["paged_bytes"] or full["nonpaged_bytes"]):
            continue
        entry = {name: full[name] for name in (
            "tag", "key", "nonpaged_outstanding", "nonpaged_bytes", "paged_outstanding",
            "paged_bytes", "outstanding", "bytes", "allocs", "frees")}
        if full["drivers"]:
            entry["drivers"] = full["drivers"]
        rows.append(entry)
    rows.sort(key=lambda r: (-r["bytes"], -r["outstanding"], r["tag"]))
    return rows


def partial_tags(report: Mapping) -> dict[str, dict]:
    """tag -> row of ``report['tags_partial']``: tags whose totals the engine could not
    complete (a tag-table page absent). Their numbers are not totals, nor zero."""
    return {row.get("tag", ""): row for row in report.get("tags_partial") or []
            if isinstance(row, dict)}


def _verifier_drivers(report: Mapping) -> list[dict]:
    verifier = report.get("verifier")
    if not isinstance(verifier, dict):
        return []
    return [d for d in verifier.get("drivers") or [] if isinstance(d, dict)]


def _rank_groups(groups: dict, top: int | None = None) -> list[dict]:
    ranked = sorted(groups.values(), key=lambda g: (-g["bytes"], -g["count"], str(g.get("tag") or g.get("symbol") or "")))
    return ranked[:top] if top is not None else ranked


def driver_summaries(report: Mapping, top: int | None = 20) -> list[dict]:
    """Verified drivers ranked by outstanding bytes. ``outstanding``/``bytes`` come from
    the driver's counters (Current*PoolAllocations, *Bytes) when present, else from its
    listed allocations; ``allocations`` lists its largest outstanding allocations."""
    out = []
    for driver in _verifier_drivers(report):
        allocations = [a for a in driver.get("allocations") or [] if isinstance(a, dict)]
        counters = driver.get("counters") if isinstance(driver.get("counters"), dict) else None
        listed_bytes = sum(a.get("length", 0) for a in allocations)
        entry = {"name": driver.get("name", "?"), "loaded": bool(driver.get("loaded")),
                 "listed": len(allocations), "listed_bytes": listed_bytes}
        if counters is not None:
            entry.update({
                "paged_outstanding": counters.get("CurrentPagedPoolAllocations", 0),
                "nonpaged_outstanding": counters.get("CurrentNonPagedPoolAllocations", 0),
                "paged_bytes": counters.get("PagedBytes", 0),
                "nonpaged_bytes": counters.get("NonPagedBytes", 0),
            })
            entry["outstanding"] = entry["paged_outstanding"] + entry["nonpaged_outstanding"]
            entry["bytes"] = entry["paged_bytes"] + entry["nonpaged_bytes"]
            entry["source"] = "counters"
        else:
            entry["outstanding"], entry["bytes"] = len(allocations), listed_bytes
            entry["source"] = "allocations"
        by_tag: dict = {}
        by_caller: dict = {}
        for alloc in allocations:
            tag = alloc.get("tag", "")
            group = by_tag.setdefault(tag, {"tag": tag, "key": alloc.get("key", 0),
                                            "count": 0, "bytes": 0})
            group["count"] += 1
            group["bytes"] += alloc.get("length", 0)
            caller = alloc.get("caller", 0)
            site = by_caller.setdefault(caller, {"caller": caller,
                                                 "symbol": alloc.get("caller_symbol"),
                                                 "count": 0, "bytes": 0})
            site["count"] += 1
            site["bytes"] += alloc.get("length", 0)
        entry["by_tag"] = _rank_groups(by_tag)
        entry["by_caller"] = _rank_groups(by_caller)
        ranked = sorted(allocations, key=lambda a: (-a.get("length", 0), a.get("address", 0)))
        entry["allocations"] = [dict(a) for a in (ranked[:top] if top is not None else ranked)]
        out.append(entry)
    out.sort(key=lambda d: (-d["bytes"], -d["outstanding"], d["name"].lower()))
    return out


def _trace_index(report: Mapping) -> dict[int, dict]:
    """address -> newest trace record of that address (trace_log is oldest first)."""
    verifier = report.get("verifier")
    newest: dict[int, dict] = {}
    if isinstance(verifier, dict):
        for record in verifier.get("trace_log") or []:
            if isinstance(record, dict) and record.get("address"):
                newest[record["address"]] = record
    return newest


def call_sites(report: Mapping, top: int | None = 20, *, tag: str | None = None,
               driver: str | None = None) -> list[dict]:
    """Outstanding verifier-tracked allocations coalesced by caller (as Solaris
    ``::findleaks`` coalesces leaks by stack): one entry per (driver, caller) with its
    count, bytes and tags; ``stack``/``symbols`` of the newest allocate record of one of
    its blocks when the trace log has one, and ``traced`` = how many of its blocks have
    an allocate record as their newest trace record. ``tag``/``driver``: only the
    allocations of that tag / verified driver (exact names)."""
    newest = _trace_index(report)
    sites: dict = {}
    for driver_entry in _verifier_drivers(report):
        if driver is not None and driver_entry.get("name") != driver:
            continue
        for alloc in driver_entry.get("allocations") or []:
            if tag is not None and alloc.get("tag", "") != tag:
                continue
            caller = alloc.get("caller", 0)
            key = (driver_entry.get("name", "?"), caller)
            site = sites.setdefault(key, {
                "caller": caller, "symbol": alloc.get("caller_symbol"),
                "driver": driver_entry.get("name", "?"), "count": 0, "bytes": 0,
                "tags": {}, "traced": 0})
            site["count"] += 1
            site["bytes"] += alloc.get("length", 0)
            alloc_tag = alloc.get("tag", "")
            site["tags"][alloc_tag] = site["tags"].get(alloc_tag, 0) + alloc.get("length", 0)
            record = newest.get(alloc.get("address"))
            if record is not None and record.get("kind") == "allocate":
                site["traced"] += 1
                if "stack" not in site:
                    site["stack"] = list(record.get("stack") or [])
                    if isinstance(record.get("symbols"), list):
                        site["symbols"] = list(record["symbols"])
    ranked = sorted(sites.values(), key=lambda s: (-s["bytes"], -s["count"], s["driver"], s["caller"]))
    for site in ranked:
        site["tags"] = [t for t, _ in sorted(site["tags"].items(), key=lambda kv: (-kv[1], kv[0]))]
    return ranked[:top] if top is not None else ranked


def bigpool_by_tag(report: Mapping, top: int | None = 20) -> list[dict]:
    """Live (not free) big-pool blocks grouped by tag, ranked by bytes: ``count``,
    ``bytes``, ``largest``, ``pool_types``. The engine's own grouping (the report's
    ``bigpool_by_tag``: per kind, session blocks apart, cross-checked with the tag tables)
    is used when the report has it; its ``count``/``bytes`` are then every live block of
    the tag (paged + nonpaged + session) and its per-kind fields and ``consistent`` are
    kept. Without it (truth files, filtered block lists) the blocks are grouped here."""
    live = [b for b in report.get("bigpool") or [] if not b.get("free")]
    engine_rows = report.get("bigpool_by_tag")
    if isinstance(engine_rows, list) and (engine_rows or not live):
        largest: dict = {}
        types: dict = defaultdict(set)
        for block in live:
            tag = block.get("tag", "")
            largest[tag] = max(largest.get(tag, 0), block.get("bytes", 0))
            types[tag].add(block.get("pool_type", 0))
        groups = {}
        for row in engine_rows:
            tag = row.get("tag", "")
            group = dict(row)
            group["count"] = sum(row.get(f"{k}_blocks", 0) for k in ("paged", "nonpaged", "session"))
            group["bytes"] = sum(row.get(f"{k}_bytes", 0) for k in ("paged", "nonpaged", "session"))
            group["largest"] = largest.get(tag, 0)
            group["pool_types"] = sorted(types.get(tag, ()))
            groups[tag] = group
        return _rank_groups(groups, top)
    groups: dict = {}
    for block in live:
        tag = block.get("tag", "")
        group = groups.setdefault(tag, {"tag": tag, "key": block.get("key", 0), "count": 0,
                                        "bytes": 0, "largest": 0, "pool_types": set()})
        group["count"] += 1
        group["bytes"] += block.get("bytes", 0)
        group["largest"] = max(group["largest"], block.get("bytes", 0))
        group["pool_types"].add(block.get("pool_type", 0))
    for group in groups.values():
        group["pool_types"] = sorted(group["pool_types"])
    return _rank_groups(groups, top)


# ---------------------------------------------------------------------------------------
# Suspects

class _Suspects:
    """Collects rule hits per subject (tag or driver) into one suspect each."""

    def __init__(self) -> None:
        self._by_subject: dict[tuple[str, str], dict] = {}

    def hit(self, kind: str, name: str, rule: str, severity: str, evidence: str, *,
            bytes_: int | None = None, count: int | None = None, **extra) -> dict:
        suspect = self._by_subject.get((kind, name))
        if suspect is None:
            suspect = {"kind": kind, "name": name, "bytes": 0, "count": 0,
                       "severity": "low", "rules": [], "evidence": []}
            self._by_subject[(kind, name)] = suspect
        if rule not in suspect["rules"]:
            suspect["rules"].append(rule)
        suspect["evidence"].append(evidence)
        if bytes_ is not None:
            suspect["bytes"] = max(suspect["bytes"], int(bytes_))
        if count is not None:
            suspect["count"] = max(suspect["count"], int(count))
        if SEVERITIES.index(severity) > SEVERITIES.index(suspect["severity"]):
            suspect["severity"] = severity
        for key, value in extra.items():
            suspect.setdefault(key, value)
        return suspect

    def get(self, kind: str, name: str) -> dict | None:
        return self._by_subject.get((kind, name))

    def ranked(self) -> list[dict]:
        out = []
        for suspect in self._by_subject.values():
            # Corroboration: two independent rules on one subject raise it one level,
            # except a lone PoolHitTag hint, which only says someone was looking.
            strong = [r for r in suspect["rules"] if r != "pool_hit_tag"]
            if len(strong) >= 2 and suspect["severity"] != "high":
                suspect["severity"] = SEVERITIES[SEVERITIES.index(suspect["severity"]) + 1]
            out.append(suspect)
        out.sort(key=lambda s: (-SEVERITIES.index(s["severity"]), -s["bytes"], -s["count"],
                                s["kind"], s["name"]))
        return out


def _size_severity(nbytes: int, t: Thresholds) -> str:
    return "high" if nbytes >= 10 * t.min_bytes else "medium"


RULES = ("few_frees", "call_site", "driver_dominates", "unloaded_with_allocations",
         "bigpool_dominates", "growth", "pool_hit_tag")


def find_suspects(report: Mapping, thresholds: Thresholds | None = None, *,
                  growth: Sequence[Mapping] = (), only: Iterable[str] | None = None, _tags: list | None = None,
                  _drivers: list | None = None,
                  _big: list | None = None) -> list[dict]:
    """Suspects of one report, ranked (most severe, then most bytes, first). ``growth``:
    the ``tags`` of a :func:`dumpscan.analysis.diff.series` result that ends with this
    report, to add the ``growth`` rule. ``only``: run just these rules (names in RULES)."""
    t = thresholds or Thresholds()
    run = set(RULES if only is None else only)
    unknown = run - set(RULES)
    if unknown:
        raise ValueError(f"unknown rule(s): {', '.join(sorted(unknown))}")
    tags = _tags if _tags is not None else tag_totals(report)
    drivers = _drivers if _drivers is not None else driver_summaries(report, top=None)
    big = _big if _big is not None else bigpool_by_tag(report, top=None)
    found = _Suspects()
    tag_rows = {row["tag"]: row for row in tags}

    # A tag with many allocations and no/few frees.
    for row in tags if "few_frees" in run else ():
        if (row["outstanding"] >= t.min_outstanding and row["bytes"] >= t.min_bytes
                and row["allocs"] > 0 and row["frees"] <= t.max_free_ratio * row["allocs"]):
            pools = []
            if row["paged_outstanding"] or row["paged_bytes"]:
                pools.append(f"{row['paged_outstanding']} paged for {row['paged_bytes']} bytes")
            if row["nonpaged_outstanding"] or row["nonpaged_bytes"]:
                pools.append(f"{row['nonpaged_outstanding']} nonpaged for {row['nonpaged_bytes']} bytes")
            found.hit("tag", row["tag"], "few_frees", _size_severity(row["bytes"], t),
                      f"{row['allocs']} allocations, {row['frees']} freed: {row['outstanding']} "
                      f"outstanding ({'; '.join(pools)}), {human_bytes(row['bytes'])}",
                      bytes_=row["bytes"], count=row["outstanding"], key=row["key"])

    # One call site holding most of a tag's bytes (verifier tracking).
    site_bytes_by_tag: dict[str, int] = defaultdict(int)
    for driver in _verifier_drivers(report):
        for alloc in driver.get("allocations") or []:
            site_bytes_by_tag[alloc.get("tag", "")] += alloc.get("length", 0)
    per_tag_site: dict[tuple[str, str, int], int] = defaultdict(int)
    per_tag_site_count: dict[tuple[str, str, int], int] = defaultdict(int)
    symbols: dict[tuple[str, int], str | None] = {}
    for driver in _verifier_drivers(report):
        for alloc in driver.get("allocations") or []:
            key = (alloc.get("tag", ""), driver.get("name", "?"), alloc.get("caller", 0))
            per_tag_site[key] += alloc.get("length", 0)
            per_tag_site_count[key] += 1
            symbols[(driver.get("name", "?"), alloc.get("caller", 0))] = alloc.get("caller_symbol")
    for (tag, driver_name, caller), nbytes in (
            sorted(per_tag_site.items(), key=lambda kv: -kv[1]) if "call_site" in run else ()):
        row = tag_rows.get(tag)
        whole = max(row["bytes"] if row else 0, site_bytes_by_tag[tag])
        if whole <= 0 or nbytes < t.min_bytes or nbytes < t.call_site_share * whole:
            continue
        symbol = symbols.get((driver_name, caller)) or f"{caller:#x}"
        count = per_tag_site_count[(tag, driver_name, caller)]
        found.hit("tag", tag, "call_site", "medium",
                  f"call site {symbol} ({driver_name}) holds {nbytes} of {whole} outstanding "
                  f"bytes ({_pct(nbytes, whole)}) in {count} allocations",
                  bytes_=max(whole, nbytes), count=row["outstanding"] if row else count,
                  key=row["key"] if row else None, caller=caller, caller_symbol=symbol,
                  driver=driver_name)

    # Verified drivers: dominating, and unloaded with outstanding allocations.
    verifier_total = sum(max(d["bytes"], 0) for d in drivers)
    check = bugcheck(report)
    for driver in drivers:
        top_tag = driver["by_tag"][0]["tag"] if driver["by_tag"] else None
        top_site = driver["by_caller"][0] if driver["by_caller"] else None
        detail = ""
        if top_site:
            detail = f"; top caller {top_site['symbol'] or hex(top_site['caller'])} " \
                     f"({top_site['count']} allocations, {top_site['bytes']} bytes)"
        if ("driver_dominates" in run and driver["bytes"] >= t.min_bytes and verifier_total
                and driver["bytes"] >= t.driver_share * verifier_total):
            found.hit("driver", driver["name"], "driver_dominates", _size_severity(driver["bytes"], t),
                      f"holds {driver['bytes']} of {verifier_total} outstanding verifier-tracked "
                      f"bytes ({_pct(driver['bytes'], verifier_total)}) in "
                      f"{driver['outstanding']} allocations{detail}",
                      bytes_=driver["bytes"], count=driver["outstanding"], top_tag=top_tag)
        if "unloaded_with_allocations" in run and not driver["loaded"] and (driver["outstanding"] > 0 or driver["listed"] > 0):
            line = (f"not loaded, yet {driver['outstanding']} allocations "
                    f"({driver['bytes']} bytes) are still outstanding{detail}")
            if check and check[0] == 0xC4 and check[1][:1] in ([0x62], [0x60]):
                line += f"; bug check 0xC4/{check[1][0]:#x}: driver unloaded without freeing its pool"
            found.hit("driver", driver["name"], "unloaded_with_allocations", "high", line,
                      bytes_=driver["bytes"], count=driver["outstanding"], top_tag=top_tag)

    # Big-pool blocks of one tag dominating.
    big_total = sum(g["bytes"] for g in big)
    if "bigpool_dominates" in run and big and big_total:
        first = big[0]
        if first["bytes"] >= t.min_bytes and first["bytes"] >= t.bigpool_share * big_total:
            row = tag_rows.get(first["tag"])
            found.hit("tag", first["tag"], "bigpool_dominates", "medium",
                      f"{first['count']} live big-pool blocks hold {first['bytes']} of "
                      f"{big_total} big-pool bytes ({_pct(first['bytes'], big_total)})",
                      bytes_=max(first["bytes"], row["bytes"] if row else 0),
                      count=row["outstanding"] if row else first["count"], key=first["key"])

    # Growth across a series.
    for entry in growth if "growth" in run else ():
        if not entry.get("growing"):
            continue
        if entry["growth_bytes"] < t.growth_min_bytes and entry["growth_count"] < t.growth_min_count:
            continue
        row = tag_rows.get(entry["tag"])
        points = len(entry["bytes"])
        severity = "high" if points >= 3 and entry.get("strict") else "medium"
        rate = ""
        if entry.get("bytes_per_hour") is not None:
            rate = f", {entry['bytes_per_hour']:.0f} bytes/hour of uptime"
        found.hit("tag", entry["tag"], "growth", severity,
                  f"outstanding grew over {points} dumps: "
                  f"{' -> '.join(str(c) for c in entry['outstanding'])} allocations, "
                  f"{' -> '.join(str(b) for b in entry['bytes'])} bytes "
                  f"(+{entry['growth_bytes']}{rate})",
                  bytes_=row["bytes"] if row else entry["bytes"][-1],
                  count=row["outstanding"] if row else entry["outstanding"][-1],
                  key=entry.get("key"))

    # PoolHitTag names a tag: an investigation was already under way.
    hit = report.get("pool_hit_tag")
    if "pool_hit_tag" in run and isinstance(hit, dict) and hit.get("key", DEFAULT_POOL_HIT_TAG) != DEFAULT_POOL_HIT_TAG:
        tag = hit.get("tag", "")
        row = tag_rows.get(tag)
        line = f"nt!PoolHitTag is set to '{display_tag(tag)}' ({hit.get('key', 0):#010x})"
        brk = hit.get("break")
        if isinstance(brk, dict):
            line += ("; the system broke into the pool code at "
                     f"{format_address(brk.get('address', 0), machine(report))}")
            if check and check[0] == 0x1E and check[1][:1] == [0x80000003]:
                line += " (bug check 0x1E, STATUS_BREAKPOINT: no debugger was attached)"
        if row:
            line += f"; {row['outstanding']} allocations ({row['bytes']} bytes) outstanding"
        found.hit("tag", tag, "pool_hit_tag", "low", line,
                  bytes_=row["bytes"] if row else 0, count=row["outstanding"] if row else 0,
                  key=hit.get("key"))

    # Attach owners to tag suspects (engine attribution, else verifier allocations).
    owners_by_tag: dict[str, set[str]] = defaultdict(set)
    for driver in _verifier_drivers(report):
        for alloc in driver.get("allocations") or []:
            owners_by_tag[alloc.get("tag", "")].add(driver.get("name", "?"))
    ranked = found.ranked()
    for suspect in ranked:
        if suspect["kind"] != "tag":
            continue
        owners = list(tag_rows.get(suspect["name"], {}).get("drivers") or [])
        owners += sorted(owners_by_tag.get(suspect["name"], set()) - set(owners))
        if owners:
            suspect["drivers"] = owners
    return ranked


WARNING_TAGS_SHOWN = 5


def summarize_tags(rows: Sequence[Mapping], what: str, shown: int = WARNING_TAGS_SHOWN) -> str:
    """One warning line for many tags: '3 tags have ...: 'Leak', 'Foo ', 'Bar!' and 1 more'
    (a corrupt dump can have hundreds; one line each would bury the other warnings)."""
    names = [f"'{display_tag(r.get('tag', ''))}'" for r in rows]
    listed = ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
    return f"{len(names)} tag{'s' if len(names) != 1 else ''} {what if len(names) != 1 else _singular(what)}: {listed}"


def _singular(what: str) -> str:
    return "has" + what[len("have"):] if what.startswith("have") else what


def exit_status(suspects: Iterable[Mapping], thresholds: Thresholds | None = None) -> int:
    """0 when no suspect exceeds the thresholds, 1 otherwise (for scripts and CI).

    A suspect exceeds them when its severity is at least ``exit_severity`` and it holds
    at least ``exit_min_bytes``; a verified driver unloaded with outstanding allocations
    always does. (2 is left to the command line for usage and analysis errors.)"""
    t = thresholds or Thresholds()
    floor = SEVERITIES.index(t.exit_severity) if t.exit_severity in SEVERITIES else 1
    for suspect in suspects:
        if "unloaded_with_allocations" in (suspect.get("rules") or ()):
            return 1
        severity = suspect.get("severity", "low")
        rank = SEVERITIES.index(severity) if severity in SEVERITIES else 0
        if rank >= floor and suspect.get("bytes", 0) >= t.exit_min_bytes:
            return 1
    return 0


def analyze(report: Mapping, thresholds: Thresholds | None = None, *,
            history: Sequence[Mapping] = ()) -> dict:
    """The ``leaks`` section of a report. ``history``: older reports of the same machine
    (any order; they are ordered by time), to add growth evidence."""
    t = thresholds or Thresholds()
    warnings: list[str] = []
    tags = tag_totals(report)
    drivers = driver_summaries(report, top=t.top_n)
    sites = call_sites(report, top=None)
    big = bigpool_by_tag(report, top=None)
    if not report.get("tags") and (report.get("dump") or {}).get("kind") != "triage":  # a triage dump says why
        warnings.append("no pool tag counters in the report: tag ranking is empty")
    negative_bytes = [r for r in tags if r["paged_bytes"] < 0 or r["nonpaged_bytes"] < 0]
    if negative_bytes:
        warnings.append(summarize_tags(negative_bytes, "have negative byte totals "
                                       "(counters corrupt or out of sync)"))
    negative_count = [r for r in tags if r["paged_outstanding"] < 0 or r["nonpaged_outstanding"] < 0]
    if negative_count:
        warnings.append(summarize_tags(negative_count, "have more frees than allocations"))
    for driver in drivers:
        if driver["source"] == "counters" and driver["outstanding"] != driver["listed"]:
            warnings.append(f"{driver['name']}: counters say {driver['outstanding']} outstanding "
                            f"allocations, {driver['listed']} tracked allocations were found "
                            "(allocations in flight at the crash, or tracker pages missing)")
    growth: list = []
    if history:
        from .diff import series  # local import: diff uses this module's helpers

        result = series([*history, report])
        if result["points"][-1]["index"] == len(history):
            growth = result["tags"]
        else:
            warnings.append("the report is not the newest of its series: growth not assessed")
        warnings.extend(result["warnings"])
    suspects = find_suspects(report, t, growth=growth, _tags=tags, _drivers=drivers,
                             _big=big)
    verifier = report.get("verifier") if isinstance(report.get("verifier"), dict) else None
    summary = {
        "tags": len(tags),
        "outstanding": sum(r["outstanding"] for r in tags),
        "paged_bytes": sum(r["paged_bytes"] for r in tags),
        "nonpaged_bytes": sum(r["nonpaged_bytes"] for r in tags),
        "bigpool_blocks": sum(g["count"] for g in big),
        "bigpool_bytes": sum(g["bytes"] for g in big),
        "verified_drivers": len(_verifier_drivers(report)),
        "verifier_outstanding": sum(d["outstanding"] for d in drivers),
        "verifier_bytes": sum(d["bytes"] for d in drivers),
        "verifier_level": verifier.get("level") if verifier else None,
    }
    summary["bytes"] = summary["paged_bytes"] + summary["nonpaged_bytes"]
    return {
        "thresholds": t.as_dict(),
        "summary": summary,
        "suspects": suspects,
        "tags": tags[:t.top_n],
        "drivers": drivers,
        "call_sites": sites[:t.top_n],
        "bigpool": big[:t.top_n],
        "warnings": warnings,
        "exit_status": exit_status(suspects, t),
    }


def top_suspect_line(suspect: Mapping) -> str:
    """One line naming a suspect, for batch rows and summaries."""
    what = f"tag '{display_tag(suspect.get('name', ''))}'" if suspect.get("kind") == "tag" \
        else f"driver {suspect.get('name', '?')}"
    return (f"{what} [{suspect.get('severity', '?')}] {suspect.get('bytes', 0)} bytes "
            f"({', '.join(suspect.get('rules') or ())})")


def format_duration(seconds: float | None) -> str:
    """'3d 04:05:06' style."""
    if seconds is None or math.isnan(seconds):
        return "unknown"
    seconds = int(round(seconds))
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{days}d {hours:02d}:{minutes:02d}:{secs:02d}" if days else \
        f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}"
