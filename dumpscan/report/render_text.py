"""Text renderings of a ``dumpscan.report/1`` dict that engineers already know.

* :func:`render_poolused`   a ``!poolused``-like per-tag table (rows from ``select``);
* :func:`render_call_sites` / :func:`render_bigpool` the ``callsites`` / ``bigpool`` sections;
* :func:`render_verifier`   ``!verifier 3``: flags, global statistics, verified drivers
  with their outstanding allocations;
* :func:`render_pool_history` ``!verifier 80 <address>``: the allocate/free history of a
  block from the verifier trace log, newest first;
* :func:`render_leak_report` the investigation: header, suspects with evidence, top
  tags, call sites, big pool, drivers;
* :func:`render_diff` / :func:`render_series` growth between dumps;
* :func:`render_batch`      the rows of an archive scan.

Addresses (docs/report-schema.md, "Rendering conventions"): pointer-sized values print
at pointer width, as the debugger's ``%p`` does: 8 hex digits on x86 (``9d2fb000``),
16 on x64 with a backtick between the halves (``fffff800`016530fc``). A ``0x`` prefix is
added exactly where the debugger's own output has one (the ``!verifier 3`` tables and
MODULE lines, ``0x9d2fb000``); the ``!verifier 80`` lines and stack frames have none.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ..analysis.engine import BUGCHECK_NAMES, VERIFIER_FLAGS, verifier_flag_names
from ..analysis.leaks import (Thresholds, analyze as analyze_leaks, bigpool_by_tag, bugcheck, display_tag,
                              format_address, format_duration, human_bytes, machine,
                              report_header, report_label, uptime_seconds)
from ..analysis.poolblocks import headline as pool_walk_headline
from ..dumpfile.headers import DUMP_TYPE_NAMES

# --------------------------------------------------------------------------------------
# Formatting primitives


def _arch(report: Mapping) -> str:
    return machine(report)


def wildcard_regex(pattern: str) -> str:
    """A ``!poolused`` wildcard (``*`` any run, ``?`` one character) as a regex body."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def tag_matcher(patterns: Iterable[str] | str | None, *, ignore_case: bool = False):
    """A predicate for ``!poolused``-style tag patterns: ``*`` = any run of characters,
    ``?`` = one character, everything else literal. Several patterns match if any does.
    Tags shorter than 4 characters in a pattern are not padded ('Irp' matches only
    'Irp'; write 'Irp*' or 'Irp ')."""
    if patterns is None:
        return lambda tag: True
    if isinstance(patterns, str):
        patterns = [patterns]
    compiled = [re.compile(f"^{wildcard_regex(p)}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))
                for p in patterns]
    if not compiled:
        return lambda tag: True
    return lambda tag: any(r.match(tag) for r in compiled)


# Bug check names and Driver Verifier flag names: the engine's tables (one copy).
# The ``!verifier`` checklist below only lays the engine's flags out as the debugger
# does (STANDARD, then ADDITIONAL, "Automatic Checks" always on).
STANDARD_FLAGS = ((0x00000000, "Automatic Checks"),) + tuple(
    (bit, VERIFIER_FLAGS[bit]) for bit in (0x1, 0x2, 0x8, 0x10, 0x20, 0x80, 0x100, 0x800, 0x20000))
ADDITIONAL_FLAGS = tuple((bit, name) for bit, name in sorted(VERIFIER_FLAGS.items())
                         if bit not in dict(STANDARD_FLAGS))


def bugcheck_text(report: Mapping) -> str | None:
    """'0x000000D1 DRIVER_IRQL_NOT_LESS_OR_EQUAL  (BugCheck D1, {9d1ff000, 2, 0, 98726a74})':
    the code, its name when known, then the debugger's own BugCheck line."""
    check = bugcheck(report)
    if check is None:
        return None
    code, params = check
    name = report_header(report).get("bugcheck_name") or BUGCHECK_NAMES.get(code)
    text = f"0x{code:08X}" + (f" {name}" if name else "")
    return text + f"  (BugCheck {code:X}, {{{', '.join(f'{p:x}' for p in params)}}})"


def _dump_type_name(value) -> str:
    return DUMP_TYPE_NAMES.get(value, f"{value}")


def _table(headers: Sequence[str], rows: Iterable[Sequence], align: str, indent: str = " ") -> list[str]:
    """Simple aligned table; ``align`` has one 'l'/'r' per column; the last column is
    left free (not padded)."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def fmt(cells):
        out = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1 and align[i] == "l":
                out.append(cell)
            else:
                out.append(cell.rjust(widths[i]) if align[i] == "r" else cell.ljust(widths[i]))
        return (indent + "  ".join(out)).rstrip()

    return [fmt(headers)] + [fmt(r) for r in rows]


# --------------------------------------------------------------------------------------
# (a) !poolused

POOLUSED_SORT_LABELS = {"nonpaged": "NonPaged Pool Consumed", "paged": "Paged Pool Consumed",
                        "total": "Total Pool Consumed (NonPaged + Paged)",
                        "allocs": "Outstanding Allocations (NonPaged + Paged)", "tag": "Tag"}


def render_poolused(rows: Sequence[Mapping], *, sort: str = "total", tags: Sequence[str] = (),
                    drivers: Sequence[str] = (), min_bytes: int = 0, top: int | None = None) -> str:
    """``!poolused``: per tag, outstanding allocations (Allocs - Frees summed over every
    tag table) and bytes in use, nonpaged and paged. ``rows``: tag rows already selected
    and sorted (:func:`dumpscan.report.select.select_tags`); the other arguments only
    describe that selection in the heading. The TOTAL line sums the printed rows."""
    out = [f" Sorting by {POOLUSED_SORT_LABELS[sort]}"]
    shown = []
    if tags:
        shown.append("tags " + ", ".join(tags))
    if drivers:
        shown.append("drivers " + ", ".join(drivers))
    if min_bytes:
        shown.append(f"at least {min_bytes} bytes")
    if top:
        shown.append(f"top {top}")
    if shown:
        out.append(" Showing " + "; ".join(shown))
    out += ["", "  Pool Used:"]
    out += _table(["Tag", "NP Allocs", "NP Used", "P Allocs", "P Used", "Drivers"],
                  [[display_tag(r["tag"]), r["nonpaged_outstanding"], r["nonpaged_bytes"],
                    r["paged_outstanding"], r["paged_bytes"], ", ".join(r.get("drivers") or [])]
                   for r in rows], "lrrrrl")
    totals = [sum(r[k] for r in rows) for k in ("nonpaged_outstanding", "nonpaged_bytes",
                                                "paged_outstanding", "paged_bytes")]
    if not rows:
        out.append(" (no tags match)")
    out.append(f" TOTAL: nonpaged {totals[0]} allocations, {totals[1]} bytes; "
               f"paged {totals[2]} allocations, {totals[3]} bytes")
    out.append(" (Allocs = outstanding: allocations - frees, summed over every tag table)")
    return "\n".join(out) + "\n"


def render_call_sites(report: Mapping, sites: Sequence[Mapping]) -> str:
    """Call sites of outstanding allocations (:func:`dumpscan.analysis.leaks.call_sites`
    entries), each with the newest allocation's stack when the trace log has one."""
    arch = _arch(report)
    out = ["Call sites of outstanding allocations (Driver Verifier pool tracking)", ""]
    if not sites:
        out.append(" (none: Driver Verifier pool tracking is off or tracks no outstanding allocations)")
    for site in sites:
        out.append(f" {format_address(site.get('caller', 0), arch, prefix=True)}  {site.get('symbol') or ''}"
                   f"  ({site.get('driver', '?')}): {site['count']} allocations, {site['bytes']} bytes, "
                   f"tags {', '.join(display_tag(t) for t in site.get('tags') or [])}")
        if site.get("stack"):
            out.append(f"    newest allocation's stack ({site.get('traced', 0)} of {site['count']} "
                       "blocks traced):")
            out += render_frames(site["stack"], site.get("symbols"), arch, indent="      ")
    return "\n".join(out) + "\n"


def render_bigpool(report: Mapping, *, tags: Sequence[str] = (), drivers: Sequence[str] = (),
                   min_bytes: int = 0, sort: str = "total", top: int | None = None) -> str:
    """The big-pool table: live blocks and bytes, then the matching live blocks grouped by
    tag (``sort``: tag, allocs = blocks, else bytes); with ``tags``/``drivers`` also the
    blocks themselves, by address."""
    from . import select as sel  # select imports this module (tag_matcher)

    arch = _arch(report)
    blocks = sel.select_bigpool(report, tags=tags, drivers=drivers, min_bytes=min_bytes)
    owners = {r["tag"]: r["drivers"] for r in sel.tag_rows(report)}
    if tags or drivers or min_bytes:
        groups = bigpool_by_tag({"bigpool": blocks}, top=None)
    else:  # every live block: the report's own grouping when it has one
        groups = bigpool_by_tag(report, top=None)
    if sort == "tag":
        groups.sort(key=lambda g: g["tag"])
    elif sort == "allocs":
        groups.sort(key=lambda g: (-g["count"], -g["bytes"], g["tag"]))
    if top:
        groups = groups[:top]
    table = report.get("bigpool") or []
    live = [b for b in table if not b.get("free")]
    out = [f"Big pool (PoolBigPageTable): {len(live)} live blocks, {sum(b.get('bytes', 0) for b in live)} "
           f"bytes; {len(table) - len(live)} free entries", ""]
    out += _table(["Tag", "Blocks", "Bytes", "Largest", "PoolTypes", "Drivers"],
                  [[display_tag(g["tag"]), g["count"], g["bytes"], g["largest"],
                    ",".join(f"{t:#x}" for t in g["pool_types"]), ", ".join(owners.get(g["tag"], []))]
                   for g in groups], "lrrrll")
    if tags or drivers:
        listed = sorted(blocks, key=lambda b: b.get("va", 0))
        if top:
            listed = listed[:top]
        out += ["", " Blocks:"]
        out += _table(["Address", "Bytes", "Tag", "PoolType"],
                      [[format_address(b.get("va", 0), arch), b.get("bytes", 0), display_tag(b.get("tag", "")),
                        f"{b.get('pool_type', 0):#x}"] for b in listed], "lrll")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# (b) !verifier 3


def render_pool_walk(report: Mapping, limit: int = 10) -> list[str]:
    """The pool walk's agreement with the tag tables: the headline, then the tags that
    differ with their likely cause."""
    section = report.get("pool_blocks")
    out = _section("Pool walk (every block) against the tag tables")
    if not isinstance(section, Mapping) or "coverage" not in section:
        return out + [" (no pool walk: see the warnings)"]
    out.append(" " + pool_walk_headline(section))
    differ = [r for r in section.get("agreement") or [] if r.get("cause")]
    if differ:
        out += _table(["Tag", "Pool", "Walk", "Walk bytes", "Tables", "Table bytes", "Likely cause"],
                      [[display_tag(r["tag"]), r["pool"], r["walk_count"], r["walk_bytes"],
                        r["table_count"], r["table_bytes"], r["cause"]] for r in differ[:limit]],
                      "llrrrrl")
        if len(differ) > limit:
            out.append(f" ... {len(differ) - limit} more")
    return out


def _stat(stats: Mapping, name: str) -> int:
    value = stats.get(name, 0)
    return value if isinstance(value, int) else 0


def render_verifier(report: Mapping) -> str:
    """``!verifier 3``: flag checklist, "Summary of All Verifier Statistics" from
    ``verifier.stats`` (MmVerifierData), then "Driver Verification List" with each
    driver's Pool Allocation Statistics (``counters``) and its outstanding allocations
    (``allocations``, highest address first as in the article), callers symbolized with
    ``caller_symbol``."""
    verifier = report.get("verifier")
    arch = _arch(report)
    if not isinstance(verifier, dict):
        return ("Driver Verifier is not enabled: no MmVerifierData settings in this dump "
                "(verifier = null).\n")
    level = verifier.get("level", 0) or 0
    stats = verifier.get("stats") or {}
    out = [f"Verify Flags Level 0x{level:08x}", "", "  STANDARD FLAGS:"]
    for bit, name in STANDARD_FLAGS:
        mark = "X" if bit == 0 or level & bit else " "
        out.append(f"    [{mark}] (0x{bit:08x}) {name}")
    out += ["", "  ADDITIONAL FLAGS:"]
    for bit, name in ADDITIONAL_FLAGS:
        mark = "X" if level & bit else " "
        out.append(f"    [{mark}] (0x{bit:08x}) {name}")
    out += ["", "    [X] Indicates flag is enabled", "", "",
            "Summary of All Verifier Statistics", ""]
    for label, name in (("RaiseIrqls", "RaiseIrqls"), ("AcquireSpinLocks", "AcquireSpinLocks"),
                        ("Synch Executions", "SynchronizeExecutions"), ("Trims", "Trims")):
        out.append(f"  {label:<20} {_stat(stats, name):#x}")
    out.append("")
    for label, name in (("Pool Allocations Attempted", "AllocationsAttempted"),
                        ("Pool Allocations Succeeded", "AllocationsSucceeded"),
                        ("Pool Allocations Succeeded SpecialPool", "AllocationsSucceededSpecialPool"),
                        ("Pool Allocations With NO TAG", "AllocationsWithNoTag"),
                        ("Pool Allocations Failed", "AllocationsFailed")):
        out.append(f"  {label:<38} {_stat(stats, name):#x}")
    out.append("")
    for label, count, nbytes in (
            ("Current paged pool allocations", "CurrentPagedPoolAllocations", "PagedBytes"),
            ("Peak paged pool allocations", "PeakPagedPoolAllocations", "PeakPagedBytes"),
            ("Current nonpaged pool allocations", "CurrentNonPagedPoolAllocations", "NonPagedBytes"),
            ("Peak nonpaged pool allocations", "PeakNonPagedPoolAllocations", "PeakNonPagedBytes")):
        out.append(f"  {label:<38} {_stat(stats, count):#x} for {_stat(stats, nbytes):08X} bytes")
    out += ["", "Driver Verification List", "------------------------", ""]
    drivers = [d for d in verifier.get("drivers") or [] if isinstance(d, dict)]
    if not drivers:
        out.append("  (no verified drivers)")
    for driver in drivers:
        out += _render_verified_driver(driver, arch)
    return "\n".join(out).rstrip() + "\n"


def _driver_entry_address(driver: Mapping) -> int | None:
    for name in ("entry", "entry_address", "address", "verified_data", "target"):
        value = driver.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _render_verified_driver(driver: Mapping, arch: str) -> list[str]:
    state = "Loaded" if driver.get("loaded") else "Hasn't loaded"
    where = _driver_entry_address(driver)
    module = f"{format_address(where, arch, prefix=True)} " if where is not None else ""
    out = [f"  MODULE: {module}{driver.get('name', '?')} ({state})", ""]
    counters = driver.get("counters")
    allocations = [a for a in driver.get("allocations") or [] if isinstance(a, dict)]
    if not isinstance(counters, dict):
        if allocations:
            out.append("    (no per-driver counters; outstanding allocations follow)")
            out.append("")
        else:
            return out
    else:
        def pair(nonpaged: str, paged: str) -> str:
            return f"( 0x{_stat(counters, nonpaged):08x} / 0x{_stat(counters, paged):08x} )"

        out += [
            "    Pool Allocation Statistics: ( NonPagedPool / PagedPool )",
            "",
            f"      Current Pool Allocations: "
            f"{pair('CurrentNonPagedPoolAllocations', 'CurrentPagedPoolAllocations')}",
            f"      Current Pool Bytes:       {pair('NonPagedBytes', 'PagedBytes')}",
            f"      Peak Pool Allocations:    "
            f"{pair('PeakNonPagedPoolAllocations', 'PeakPagedPoolAllocations')}",
            f"      Peak Pool Bytes:          {pair('PeakNonPagedBytes', 'PeakPagedBytes')}",
            f"      Contiguous Memory Bytes:       0x{_stat(counters, 'ContiguousMemoryBytes'):08x}",
            f"      Peak Contiguous Memory Bytes:  0x{_stat(counters, 'PeakContiguousMemoryBytes'):08x}",
            "",
        ]
    if allocations:
        width = len(format_address(0, arch, prefix=True))
        out += ["    Pool Allocations:", "",
                f"      {'Address':<{width}}  {'Length':<{width}}  Tag   Caller",
                f"      {'-' * width}  {'-' * width}  ----  {'-' * width}"]
        for alloc in sorted(allocations, key=lambda a: a.get("address", 0), reverse=True):
            caller = alloc.get("caller", 0)
            symbol = alloc.get("caller_symbol") or ""
            if symbol in (f"{caller:#x}", hex(caller)):
                symbol = ""
            line = (f"      {format_address(alloc.get('address', 0), arch, prefix=True)}  "
                    f"{format_address(alloc.get('length', 0), arch, prefix=True)}  "
                    f"{display_tag(alloc.get('tag', '')):<4}  "
                    f"{format_address(caller, arch, prefix=True)}")
            out.append(f"{line}  {symbol}" if symbol else line)
        out.append("")
    out += ["    Contiguous allocations are not displayed with public symbols.", ""]
    return out


# --------------------------------------------------------------------------------------
# (c) !verifier 80 <address>


def _trace_length(report: Mapping) -> int | None:
    verifier = report.get("verifier") or {}
    header = report_header(report)
    for value in (verifier.get("trace_length"), header.get("verifier_trace_length"),
                  header.get("trace_length")):
        if isinstance(value, int) and value > 0:
            return value
    return None


def render_frames(stack: Sequence[int], symbols: Sequence | None, arch: str,
                  indent: str = "") -> list[str]:
    """One line per frame: ``address symbol`` (symbol when the parallel ``symbols``
    list has one, else the address alone)."""
    lines = []
    for i, frame in enumerate(stack):
        symbol = symbols[i] if isinstance(symbols, (list, tuple)) and i < len(symbols) else None
        text = f"{indent}{format_address(frame, arch)}"
        lines.append(f"{text} {symbol}" if symbol else text)
    return lines


def render_pool_history(report: Mapping, address: int | None = None, *,
                        count: int | None = None) -> str:
    """``!verifier 80 <address>``: the trace-log records of ``address``, newest first
    ("Pool block X, Size Y, Thread Z" and one line per frame); with ``address`` None,
    the ``count`` most recent records (``!verifier 80 <count>``)."""
    arch = _arch(report)
    verifier = report.get("verifier")
    if not isinstance(verifier, dict):
        return "Driver Verifier is not enabled: there is no pool allocate/free log.\n"
    records = [r for r in verifier.get("trace_log") or [] if isinstance(r, dict)]
    length = _trace_length(report)
    parsed = length if length is not None else len(records)
    out = ["Log of recent kernel pool Allocate and Free operations:", ""]
    if length is not None:
        out.append(f"There are up to 0x{length:x} entries in the log.")
    else:
        out.append(f"The log holds 0x{len(records):x} readable entries.")
    out.append("")
    if address is not None:
        out.append(f"Parsing 0x{parsed:08x} log entries, searching for address "
                   f"{format_address(address, arch, prefix=True)}.")
        chosen = [r for r in reversed(records) if r.get("address") == address]
    else:
        shown = len(records) if count is None else max(count, 0)
        out.append(f"Parsing 0x{parsed:08x} log entries, showing the 0x{shown:x} most recent.")
        chosen = list(reversed(records))[:shown]
    out += ["", ""]
    for record in chosen:
        out.append("=" * 70)
        out.append(f"Pool block {format_address(record.get('address', 0), arch)}, "
                   f"Size {format_address(record.get('size', 0), arch)}, "
                   f"Thread {format_address(record.get('thread', 0), arch)}")
        out += render_frames(record.get("stack") or [], record.get("symbols"), arch)
    if address is not None and not chosen:
        out.append(f"No log entries for address {format_address(address, arch, prefix=True)}.")
    out.append(f"Parsed entry {parsed:08x}/{parsed:08x}...")
    out.append("Finished parsing all pool tracking information.")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# (d) the leak report

_HEADER_LABELS = (  # known header keys -> label, in display order
    ("dump", "Dump"), ("path", "Dump"), ("kernel_build", "Kernel build"), ("build", "Kernel build"),
    ("product", "Product"), ("dump_type_name", "Dump type"), ("processors", "Processors"),
    ("crash_time", "Crash time"), ("system_time", "System time"),
)


def _header_lines(report: Mapping) -> list[str]:
    header = report_header(report)
    lines = []
    done = {"uptime_seconds", "uptime", "bugcheck", "bugcheck_name", "pool_hit_tag",
            "verifier_level", "machine"}
    seen_labels = set()
    for key, label in _HEADER_LABELS:
        if key in header and header[key] not in (None, "") and label not in seen_labels:
            lines.append((label, str(header[key])))
            seen_labels.add(label)
            done.add(key)
        elif key in header:
            done.add(key)
    kernel = report.get("kernel") or {}
    dump = report.get("dump") or {}
    arch = _arch(report)
    if kernel:
        lines.append(("Kernel", f"{kernel.get('pdb', '?')} {kernel.get('guid', '?')}/"
                                f"{kernel.get('age', '?')} at "
                                f"{format_address(kernel.get('base', 0), arch)}"))
    if dump:
        lines.append(("Machine", f"{dump.get('machine', '?')}, "
                                 f"{_dump_type_name(dump.get('dump_type'))}"))
    check = bugcheck_text(report)
    if check:
        lines.append(("Bug check", check))
    up = uptime_seconds(report)
    lines.append(("Uptime", format_duration(up) if up is not None else "unknown"))
    hit = report.get("pool_hit_tag")
    if isinstance(hit, dict):
        brk = hit.get("break")
        where = ""
        if isinstance(brk, dict):
            where = f"; broke at {format_address(brk.get('address', 0), arch)}"
        lines.append(("PoolHitTag", f"'{display_tag(hit.get('tag', ''))}' "
                                    f"({hit.get('key', 0):08x}){where}"))
    elif "pool_hit_tag" in report:
        lines.append(("PoolHitTag", "not set (ffffff0f)"))
    verifier = report.get("verifier")
    if isinstance(verifier, dict):
        level = verifier.get("level", 0) or 0
        names = ", ".join(verifier_flag_names(level)) or "none"
        drivers = verifier.get("drivers") or []
        lines.append(("Verifier", f"level 0x{level:08x} ({names}); {len(drivers)} verified "
                                  f"driver(s)"))
    elif "verifier" in report:
        lines.append(("Verifier", "off"))
    for key, value in header.items():  # any other scalar extras of the engine
        if key in done or isinstance(value, (dict, list)) or value in (None, ""):
            continue
        lines.append((key.replace("_", " ").capitalize(), str(value)))
    width = max(len(label) for label, _ in lines) if lines else 0
    return [f"{label:<{width}} : {value}" for label, value in lines]


def _section(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def render_leak_report(report: Mapping, leaks: Mapping | None = None, *,
                       thresholds: Thresholds | None = None, top: int | None = None) -> str:
    """The investigation report: header, suspects with their evidence, top tags, call
    sites, big pool by tag, verified drivers, warnings. ``leaks``: the report's ``leaks``
    section (computed with :func:`dumpscan.analysis.leaks.analyze` when not given and
    not in the report)."""
    if leaks is None:
        leaks = report.get("leaks") if isinstance(report.get("leaks"), dict) else None
    if leaks is None:
        leaks = analyze_leaks(report, thresholds)
    arch = _arch(report)
    n = top if top is not None else (leaks.get("thresholds") or {}).get("top_n", 20)
    label = report_label(report, "")
    title = f"dumpscan leak report: {label}" if label else "dumpscan leak report"
    out = [title, "=" * len(title), ""]
    out += _header_lines(report)

    suspects = leaks.get("suspects") or []
    out += _section(f"Suspects ({len(suspects)})")
    if not suspects:
        out.append(" none: no tag, call site or driver exceeds the thresholds")
    for i, suspect in enumerate(suspects, 1):
        what = f"tag '{display_tag(suspect.get('name', ''))}'" if suspect.get("kind") == "tag" \
            else f"driver {suspect.get('name', '?')}"
        line = (f" {i}. {what}  [{suspect.get('severity', '?')}]  {suspect.get('bytes', 0)} bytes "
                f"({human_bytes(suspect.get('bytes', 0))}) in {suspect.get('count', 0)} allocations")
        owners = suspect.get("drivers")
        if owners:
            line += f"  owner: {', '.join(owners)}"
        out.append(line)
        out.append(f"      rules: {', '.join(suspect.get('rules') or [])}")
        for evidence in suspect.get("evidence") or []:
            out.append(f"      - {evidence}")

    hit = report.get("pool_hit_tag")
    brk = hit.get("break") if isinstance(hit, dict) else None
    if isinstance(brk, dict):
        out += _section(f"PoolHitTag '{display_tag(hit.get('tag', ''))}' break "
                        "(the pool call that hit it)")
        frames = [brk.get("address", 0)] + list(brk.get("return_addresses") or [])
        symbols = brk.get("symbols")
        if isinstance(symbols, list) and len(symbols) == len(frames) - 1:
            symbols = [brk.get("symbol")] + symbols  # symbols parallel to return_addresses only
        out += render_frames(frames, symbols, arch, indent=" ")

    tags = (leaks.get("tags") or [])[:n]
    out += _section("Top tags by outstanding bytes")
    if tags:
        out += _table(["Tag", "NP Allocs", "NP Used", "P Allocs", "P Used", "Total", "Drivers"],
                      [[display_tag(r["tag"]), r["nonpaged_outstanding"], r["nonpaged_bytes"],
                        r["paged_outstanding"], r["paged_bytes"], r["bytes"],
                        ", ".join(r.get("drivers") or [])] for r in tags], "lrrrrrl")
    else:
        out.append(" (no pool tag counters)")

    sites = (leaks.get("call_sites") or [])[:n]
    out += _section("Call sites of outstanding allocations (Driver Verifier pool tracking)")
    if sites:
        width = len(format_address(0, arch, prefix=True))
        out.append(f" {'Count':>7}  {'Bytes':>12}  {'Tags':<9}  {'Caller':<{width}}  Symbol")
        for site in sites:
            symbol = site.get("symbol") or ""
            out.append(f" {site['count']:>7}  {site['bytes']:>12}  "
                       f"{','.join(display_tag(t) for t in site.get('tags') or []):<9}  "
                       f"{format_address(site.get('caller', 0), arch, prefix=True):<{width}}  "
                       f"{symbol}  ({site.get('driver', '?')})".rstrip())
            if site.get("stack"):
                out.append(f"          newest allocation's stack (trace log, "
                           f"{site.get('traced', 0)} of {site['count']} blocks traced):")
                out += render_frames(site["stack"], site.get("symbols"), arch, indent="            ")
    else:
        out.append(" (none: Driver Verifier pool tracking is off or tracks no outstanding "
                   "allocations)")

    big = (leaks.get("bigpool") or [])[:n]
    out += _section("Big pool (live blocks) by tag")
    if big:
        out += _table(["Tag", "Blocks", "Bytes", "Largest"],
                      [[display_tag(g["tag"]), g["count"], g["bytes"], g["largest"]] for g in big],
                      "lrrr")
    else:
        out.append(" (no live big-pool blocks)")

    out += render_pool_walk(report)

    drivers = leaks.get("drivers") or []
    if drivers or isinstance(report.get("verifier"), dict):
        out += _section("Verified drivers by outstanding bytes")
        if drivers:
            out += _table(["Driver", "Loaded", "NP Allocs", "NP Bytes", "P Allocs", "P Bytes",
                           "Listed", "Top caller"],
                          [[d["name"], "yes" if d["loaded"] else "no",
                            d.get("nonpaged_outstanding", "-"), d.get("nonpaged_bytes", "-"),
                            d.get("paged_outstanding", "-"), d.get("paged_bytes", "-"),
                            d["listed"],
                            (d["by_caller"][0]["symbol"] or hex(d["by_caller"][0]["caller"]))
                            if d.get("by_caller") else ""] for d in drivers], "llrrrrrl")
        else:
            out.append(" (none)")

    warnings = list(report.get("warnings") or []) + list(leaks.get("warnings") or [])
    if warnings:
        out += _section("Warnings")
        out += [f" - {w if isinstance(w, str) else w}" for w in warnings]
    coverage = report.get("coverage")
    if isinstance(coverage, dict) and coverage:
        out += _section("Coverage")
        for key, value in coverage.items():
            out.append(f" {key}: {value}")
    status = leaks.get("exit_status")
    if status is not None:
        out += ["", f"Exit status: {status} "
                    f"({'suspects exceed the thresholds' if status else 'nothing exceeds the thresholds'})"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# (e) diff and series


def _rate(value: float | None, unit: str) -> str:
    return f"{value:+.0f} {unit}/h" if value is not None else "-"


def render_diff(diff: Mapping, *, top: int = 20) -> str:
    """A :func:`dumpscan.analysis.diff.diff_reports` result."""
    older, newer = diff["older"], diff["newer"]
    title = f"Pool changes: {older['label']} -> {newer['label']}"
    out = [title, "=" * len(title)]
    if diff.get("elapsed_seconds") is not None:
        out.append(f"Elapsed: {format_duration(diff['elapsed_seconds'])} "
                   f"({'uptime' if diff.get('rate_basis') == 'uptime' else 'wall clock'})")
    else:
        out.append("Elapsed: unknown (no rates)")
    tags = diff.get("tags") or []
    grew = [t for t in tags if t["bytes_delta"] > 0 or t["outstanding_delta"] > 0][:top]
    shrank = sorted([t for t in tags if t["bytes_delta"] < 0], key=lambda t: t["bytes_delta"])[:top]
    out += _section("Tags that grew")
    if grew:
        out += _table(["Tag", "Outstanding", "Delta", "Bytes", "Delta", "Rate", "Status"],
                      [[display_tag(t["tag"]), f"{t['outstanding_before']} -> {t['outstanding_after']}",
                        f"{t['outstanding_delta']:+d}", f"{t['bytes_before']} -> {t['bytes_after']}",
                        f"{t['bytes_delta']:+d}", _rate(t.get("bytes_per_hour"), "bytes"),
                        t.get("status", "")] for t in grew], "lrrrrrl")
    else:
        out.append(" (none)")
    if shrank:
        out += _section("Tags that shrank")
        out += _table(["Tag", "Outstanding", "Bytes", "Delta"],
                      [[display_tag(t["tag"]), f"{t['outstanding_before']} -> {t['outstanding_after']}",
                        f"{t['bytes_before']} -> {t['bytes_after']}", f"{t['bytes_delta']:+d}"]
                       for t in shrank], "lrrr")
    partial = diff.get("partial") or []
    if partial:
        out += _section("Tags with partial totals (not compared)")

        def value(number):
            return "partial" if number is None else number

        out += _table(["Tag", "Outstanding", "Bytes", "Partial in"],
                      [[display_tag(t["tag"]), f"{value(t['outstanding_before'])} -> {value(t['outstanding_after'])}",
                        f"{value(t['bytes_before'])} -> {value(t['bytes_after'])}",
                        ", ".join(t.get("partial_in") or [])] for t in partial[:top]], "lrrl")
    big = diff.get("bigpool") or {}
    for key, label in (("new", "New big-pool blocks by tag"),
                       ("vanished", "Vanished big-pool blocks by tag")):
        groups = (big.get(key) or [])[:top]
        out += _section(f"{label} ({big.get(key + '_blocks', 0)} blocks, "
                        f"{big.get(key + '_bytes', 0)} bytes)")
        if groups:
            out += _table(["Tag", "Blocks", "Bytes"],
                          [[display_tag(g["tag"]), g["count"], g["bytes"]] for g in groups], "lrr")
        else:
            out.append(" (none)")
    drivers = diff.get("drivers") or []
    if drivers:
        out += _section("Verified drivers")
        out += _table(["Driver", "Loaded", "Outstanding", "Bytes", "Delta", "New", "Freed", "Rate"],
                      [[d["name"], f"{_yn(d['loaded_before'])} -> {_yn(d['loaded_after'])}",
                        f"{d['outstanding_before']} -> {d['outstanding_after']}",
                        f"{d['bytes_before']} -> {d['bytes_after']}", f"{d['bytes_delta']:+d}",
                        d["new_allocations"], d["freed_allocations"],
                        _rate(d.get("bytes_per_hour"), "bytes")] for d in drivers], "llrrrrrl")
    if diff.get("warnings"):
        out += _section("Warnings")
        out += [f" - {w}" for w in diff["warnings"]]
    return "\n".join(out) + "\n"


def _yn(value) -> str:
    return "-" if value is None else "yes" if value else "no"


def render_series(result: Mapping, *, top: int = 20) -> str:
    """A :func:`dumpscan.analysis.diff.series` result: the points, then the tags that
    grow monotonically (biggest growth first), then the growth suspects."""
    points = result.get("points") or []
    title = f"Pool growth over {len(points)} dumps (ordered by {result.get('ordered_by', '?')})"
    out = [title, "=" * len(title)]
    for i, point in enumerate(points):
        up = point.get("uptime_seconds")
        out.append(f" t{i}: {point['label']}  uptime {format_duration(up) if up is not None else 'unknown'}")
    if result.get("elapsed_seconds") is not None:
        out.append(f" elapsed {format_duration(result['elapsed_seconds'])} "
                   f"({'uptime' if result.get('rate_basis') == 'uptime' else 'wall clock'})")
    growers = (result.get("tags") or [])[:top]
    out += _section("Tags growing monotonically")
    if growers:
        out += _table(["Tag", "Outstanding", "Bytes", "Growth", "Rate", "Every step"],
                      [[display_tag(g["tag"]), " -> ".join(map(str, g["outstanding"])),
                        " -> ".join(map(str, g["bytes"])), f"{g['growth_bytes']:+d}",
                        _rate(g.get("bytes_per_hour"), "bytes"), "yes" if g.get("strict") else "no"]
                       for g in growers], "lrrrrl")
    else:
        out.append(" (none)")
    suspects = result.get("suspects") or []
    out += _section(f"Growth suspects ({len(suspects)})")
    for i, suspect in enumerate(suspects, 1):
        out.append(f" {i}. tag '{display_tag(suspect['name'])}'  [{suspect['severity']}]  "
                   f"{suspect['bytes']} bytes in {suspect['count']} allocations")
        out += [f"      - {e}" for e in suspect.get("evidence") or []]
    if not suspects:
        out.append(" none")
    if result.get("warnings"):
        out += _section("Warnings")
        out += [f" - {w}" for w in result["warnings"]]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# batch


def render_batch(rows: Iterable) -> str:
    """Rows of :func:`dumpscan.analysis.batch.scan_archive` as a text table."""
    rows = [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in rows]
    table = _table(["Status", "Dump", "Kernel", "Bug check", "Top tag", "Top suspect / error"],
                   [[r["status"], r["dump"], r.get("kernel_build") or "-",
                     (r.get("bugcheck") or "-").split(" ")[0], r.get("top_tag") or "-",
                     (r.get("error") if r["status"] != "ok" else r.get("top_suspect")) or "-"]
                    for r in rows], "llllll")
    failed = sum(1 for r in rows if r["status"] != "ok")
    flagged = sum(1 for r in rows if r.get("exit_status"))
    table.append("")
    table.append(f" {len(rows)} dumps: {len(rows) - failed} analysed, {failed} failed, "
                 f"{flagged} with suspects over the thresholds")
    return "\n".join(table) + "\n"


__all__ = [
    "format_address", "tag_matcher", "render_poolused", "render_call_sites", "render_bigpool",
    "render_verifier",
    "render_pool_history", "render_frames", "render_leak_report", "render_diff",
    "render_series", "render_batch", "bugcheck_text", "verifier_flag_names",
    "BUGCHECK_NAMES",
]
