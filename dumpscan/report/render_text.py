"""Text: the views as engineers know them, and the leak report, diff, series and batch.

:class:`TextFrontend` renders any view (``dumpscan.views``): a view with a ``layout``
gets the debugger's look (``poolused``: ``!poolused``; ``verifier``: ``!verifier 3``;
``history``: ``!verifier 80``; ``bigpool``: the table's totals, groups and, when
filtered, blocks); every other view is a rich table (child rows indented under
their parent). The leak report (:func:`render_leak_report`) is built from the views
``suspects``, ``pooltags``, ``callsites``, ``bigpool`` and ``drivers``.

Addresses (docs/report-schema.md, "Rendering conventions"): pointer-sized values print
at pointer width, as the debugger's ``%p`` does: 8 hex digits on x86 (``9d2fb000``),
16 on x64 with a backtick between the halves (``fffff800`016530fc``). A ``0x`` prefix is
added exactly where the debugger's own output has one (the ``!verifier 3`` tables and
MODULE lines, ``0x9d2fb000``); the ``!verifier 80`` lines and stack frames have none.
Numbers are plain decimal (``dumpscan.views.format.number``).
"""
from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..analysis.engine import BUGCHECK_NAMES, VERIFIER_FLAGS, verifier_flag_names
from ..analysis.leaks import (Thresholds, bugcheck, display_tag, format_address, format_duration,
                              machine, report_header, report_label, uptime_seconds)
from ..analysis.poolblocks import headline as pool_walk_headline
from ..dumpfile.headers import DUMP_TYPE_NAMES
from ..views import VIEWS, Query, Table, tree_rows
from ..views.format import formatter, number, size

# --------------------------------------------------------------------------------------
# Formatting primitives


def _arch(report: Mapping) -> str:
    return machine(report)


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
# Any view: a rich table

def _width() -> int:
    """The terminal's width, at least 120 columns (output to a file or pipe: 160)."""
    return max(120, shutil.get_terminal_size((160, 24)).columns)


def render_table(table: Table) -> str:
    """A view as a rich table: the tree columns, child rows indented under their parent;
    the table's notes after it."""
    from rich.box import Box
    from rich.console import Console
    from rich.table import Table as RichTable

    columns = table.view.tree_columns()
    # rich's SIMPLE_HEAD in ASCII: a dashed line under the headings (any terminal encoding)
    grid = RichTable(box=Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True),
                     show_edge=False, pad_edge=False)
    for column in columns:
        numeric = column.kind in ("int", "bytes", "float")
        grid.add_column(column.heading, justify="right" if numeric else "left", overflow="fold",
                        no_wrap=numeric, min_width=len(column.heading) if numeric else None)
    cells_of = [(c.name, formatter(c, "text", table.arch)) for c in columns]
    for depth, row in tree_rows(table.rows):
        cells = [convert(row.values.get(name)) for name, convert in cells_of]
        if depth:
            cells[0] = "  " * depth + "- " + cells[0]
        grid.add_row(*cells, style="dim" if depth else None)
    buffer = io.StringIO()
    console = Console(file=buffer, width=_width(), color_system=None, highlight=False, soft_wrap=False)
    if table.rows:
        console.print(grid)
    else:
        console.print(" (no rows)")
    for note in table.notes:
        console.print(f" {note}")
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


# --------------------------------------------------------------------------------------
# (a) !poolused

POOLUSED_SORT_LABELS = {"nonpaged": "NonPaged Pool Consumed", "paged": "Paged Pool Consumed",
                        "total": "Total Pool Consumed (NonPaged + Paged)",
                        "allocs": "Outstanding Allocations (NonPaged + Paged)", "tag": "Tag"}


def _showing(query: Query) -> str | None:
    shown = []
    if query.tag:
        shown.append("tags " + ", ".join(query.tag))
    if query.driver:
        shown.append("drivers " + ", ".join(query.driver))
    if query.min_bytes:
        shown.append(f"at least {number(query.min_bytes)} bytes")
    if query.top:
        shown.append(f"top {query.top}")
    return " Showing " + "; ".join(shown) if shown else None


def render_poolused(table: Table) -> str:
    """The ``pooltags`` view as ``!poolused`` prints it: per tag, outstanding allocations
    (Allocs - Frees summed over every tag table) and bytes in use, nonpaged and paged.
    The TOTAL line sums the printed rows; a tag whose totals are partial is marked '*'."""
    query: Query = table.context.get("query") or Query()
    rows = [r.values for r in table.rows]
    out = [f" Sorting by {POOLUSED_SORT_LABELS[table.context.get('sort', 'total')]}"]
    showing = _showing(query)
    if showing:
        out.append(showing)
    out += ["", "  Pool Used:"]
    out += _table(["Tag", "NP Allocs", "NP Used", "P Allocs", "P Used", "Drivers"],
                  [[display_tag(r["tag"]) + ("*" if r.get("partial") else ""), r["nonpaged_outstanding"],
                    r["nonpaged_bytes"], r["paged_outstanding"], r["paged_bytes"], ", ".join(r.get("drivers") or [])]
                   for r in rows], "lrrrrl")
    totals = [sum(r[k] for r in rows) for k in ("nonpaged_outstanding", "nonpaged_bytes",
                                                "paged_outstanding", "paged_bytes")]
    if not rows:
        out.append(" (no tags match)")
    out.append(f" TOTAL: nonpaged {number(totals[0])} allocations, {number(totals[1])} bytes; "
               f"paged {number(totals[2])} allocations, {number(totals[3])} bytes")
    out.append(" (Allocs = outstanding: allocations - frees, summed over every tag table)")
    if any(r.get("partial") for r in rows):
        out.append(" (* partial: a page of a tag table is absent from the dump; at least these counts)")
    return "\n".join(out) + "\n"


def render_bigpool(table: Table) -> str:
    """The ``bigpool`` view: the table's live blocks and bytes, the groups by tag and, when
    the view is filtered (--tag/--driver/--min-bytes), the blocks themselves by address."""
    context = table.context
    out = [f"Big pool (PoolBigPageTable): {number(context['live_blocks'])} live blocks, "
           f"{number(context['live_bytes'])} bytes; {number(context['free_entries'])} free entries", ""]
    groups = [r.values for r in table.rows]
    out += _table(["Tag", "Blocks", "Bytes", "Largest", "PoolTypes", "Drivers"],
                  [[display_tag(g["tag"]), g["blocks"], g["bytes"], g["largest"], ",".join(g["pool_types"]),
                    ", ".join(g.get("drivers") or [])] for g in groups], "lrrrll")
    if context.get("filtered"):
        blocks = sorted((child.values for row in table.rows for child in row.children),
                        key=lambda b: b["address"])
        query = context.get("query")
        if query is not None and query.top:
            blocks = blocks[:query.top]
        out += ["", " Blocks:"]
        out += _table(["Address", "Bytes", "Tag", "PoolType"],
                      [[format_address(b["address"], table.arch), b["bytes"], display_tag(b["tag"]),
                        f"{b['pool_type']:#x}"] for b in blocks], "lrll")
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


def render_verifier(table: Table) -> str:
    """The ``verifier`` view as ``!verifier 3`` prints it: flag checklist, "Summary of All
    Verifier Statistics" from ``verifier.stats`` (MmVerifierData), then "Driver
    Verification List" with each driver's Pool Allocation Statistics (``counters``) and
    its outstanding allocations (the view's child rows: highest address first as in the
    article), callers symbolized."""
    verifier = table.context.get("verifier")
    arch = table.arch
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
    if not table.rows:
        out.append("  (no verified drivers)")
    for row, driver in zip(table.rows, table.context["drivers"]):
        out += _render_verified_driver(driver, row.values.get("address"),
                                       [child.values for child in row.children], arch)
    return "\n".join(out).rstrip() + "\n"


def _render_verified_driver(driver: Mapping, where: int | None, allocations: list[dict],
                            arch: str) -> list[str]:
    state = "Loaded" if driver.get("loaded") else "Hasn't loaded"
    module = f"{format_address(where, arch, prefix=True)} " if where is not None else ""
    out = [f"  MODULE: {module}{driver.get('name', '?')} ({state})", ""]
    counters = driver.get("counters")
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
        for alloc in allocations:
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


def render_pool_history(table: Table) -> str:
    """The ``history`` view as ``!verifier 80`` prints it: the records of ``--address``
    (or the newest ones), newest first: "Pool block X, Size Y, Thread Z" and one line per
    frame."""
    arch, context = table.arch, table.context
    if not context.get("enabled"):
        return "Driver Verifier is not enabled: there is no pool allocate/free log.\n"
    length, address = context.get("trace_length"), context.get("address")
    parsed = length if length is not None else context["records"]
    out = ["Log of recent kernel pool Allocate and Free operations:", ""]
    if length is not None:
        out.append(f"There are up to 0x{length:x} entries in the log.")
    else:
        out.append(f"The log holds 0x{context['records']:x} readable entries.")
    out.append("")
    if address is not None:
        out.append(f"Parsing 0x{parsed:08x} log entries, searching for address "
                   f"{format_address(address, arch, prefix=True)}.")
    else:
        out.append(f"Parsing 0x{parsed:08x} log entries, showing the 0x{len(table.rows):x} most recent.")
    out += ["", ""]
    for row in table.rows:
        record = row.values
        out.append("=" * 70)
        out.append(f"Pool block {format_address(record['address'], arch)}, "
                   f"Size {format_address(record['size'], arch)}, "
                   f"Thread {format_address(record['thread'], arch)}")
        out += render_frames([f.values["address"] for f in row.children],
                             [f.values.get("symbol") for f in row.children], arch)
    if address is not None and not table.rows:
        out.append(f"No log entries for address {format_address(address, arch, prefix=True)}.")
    out.append(f"Parsed entry {parsed:08x}/{parsed:08x}...")
    out.append("Finished parsing all pool tracking information.")
    return "\n".join(out) + "\n"


def render_suspects(table: Table, *, stacks: bool = True) -> str:
    """The ``suspects`` view as the leak report lists it: rank, subject, severity, size,
    owners, rules and one line of evidence each; with ``stacks``, each subject's call
    sites (child rows) and their newest allocation's stack."""
    out = []
    if not table.rows:
        out.append(" none: no tag, call site or driver exceeds the thresholds")
    for row in table.rows:
        subject = row.values
        what = f"tag '{display_tag(subject['name'])}'" if subject["kind"] == "tag" else f"driver {subject['name']}"
        line = (f" {subject['rank']}. {what}  [{subject['severity']}]  {size(subject['bytes'])} "
                f"in {number(subject['count'])} allocations")
        if subject["kind"] == "tag" and subject.get("drivers"):
            line += f"  owner: {', '.join(subject['drivers'])}"
        out.append(line)
        if subject["rules"]:
            out.append(f"      rules: {', '.join(subject['rules'])}")
        out += [f"      - {evidence}" for evidence in subject["evidence"]]
        for child in row.children if stacks else []:
            site = child.values
            out.append(f"      call site {format_address(site['caller'], table.arch, prefix=True)} "
                       f"{site.get('caller_symbol') or ''} ({', '.join(site['drivers'])}): "
                       f"{number(site['count'])} allocations, {number(site['bytes'])} bytes")
            out += [f"        {evidence}" for evidence in site["evidence"]]
    out += [f" {note}" for note in table.notes]
    return "\n".join(out) + "\n"


LAYOUTS: dict[str, Callable[[Table], str]] = {
    "suspects": render_suspects, "poolused": render_poolused, "verifier": render_verifier, "history": render_pool_history,
    "bigpool": render_bigpool}


def render_view(table: Table) -> str:
    """A view's table in its layout (``View.layout``), else as a rich table."""
    return LAYOUTS.get(table.view.layout or "", render_table)(table)


class TextFrontend:
    """Any view as text, one table per dump; with labels (several dumps, or several
    views of one) each table gets a ``LABEL: title`` heading."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def add(self, table: Table, label: str | None = None) -> None:
        text = render_view(table)
        if label is not None:
            heading = f"{label}: {table.view.title}"
            text = f"{heading}\n{'=' * len(heading)}\n\n{text}"
        self._parts.append(text)

    def finish(self) -> str:
        return "\n".join(self._parts)


# --------------------------------------------------------------------------------------
# (d) the leak report

# Header keys the fixed lines show (or that repeat one of them): the rest are printed as
# "Label : value" after them.
_HEADER_SHOWN = frozenset({
    "dump", "dump_file", "file", "path", "name", "machine", "kernel_build", "build", "build_lab",
    "kernel_pdb", "symbol_table", "dump_type", "dump_type_name", "pages_present", "pages_covered",
    "page_coverage", "processors", "uptime_seconds", "uptime", "system_time", "system_time_filetime",
    "crash_time", "bugcheck", "bugcheck_name", "pool_hit_tag", "verifier_level", "driver_verifier",
    "verified_drivers", "verifier_flags", "verifier_trace_length", "pool_usage", "paged_pool",
    "nonpaged_pool", "warnings"})


def header_facts(report: Mapping) -> list[tuple[str, str]]:
    """(label, value) per fact, each once: dump, machine and dump type, kernel, symbol
    table, crash time, uptime, bug check, pages, pool in use, PoolHitTag, Driver Verifier,
    then the engine's other scalar extras."""
    header = report_header(report)
    kernel = report.get("kernel") or {}
    dump = report.get("dump") or {}
    arch = _arch(report)
    lines: list[tuple[str, str]] = []
    label = report_label(report, "")
    if label:
        lines.append(("Dump", label))
    if dump or header.get("dump_type_name"):
        kind = header.get("dump_type_name") or _dump_type_name(dump.get("dump_type"))
        machine_line = f"{dump.get('machine') or arch}, {kind}"
        if isinstance(header.get("processors"), int):
            machine_line += f", {number(header['processors'])} processors"
        lines.append(("Machine", machine_line))
    build = header.get("kernel_build") or header.get("build")
    parts = [str(build)] if build else []
    if header.get("build_lab"):
        parts.append(f"({header['build_lab']})")
    if kernel:
        parts.append(f"{kernel.get('pdb', '?')} {kernel.get('guid', '?')}/{kernel.get('age', '?')} at "
                     f"{format_address(kernel.get('base', 0), arch)}")
    if parts:
        lines.append(("Kernel", " ".join(parts)))
    table = header.get("symbol_table") or kernel.get("symbols")
    if table:
        lines.append(("Symbol table", str(table)))
    when = header.get("system_time") or header.get("crash_time")
    if when:
        lines.append(("Crash time", str(when)))
    up = uptime_seconds(report)
    lines.append(("Uptime", format_duration(up) if up is not None else "unknown"))
    check = bugcheck_text(report)
    if check:
        lines.append(("Bug check", check))
    if header.get("page_coverage"):
        lines.append(("Pages", str(header["page_coverage"])))
    usage = header.get("pool_usage")
    if isinstance(usage, dict):
        pool = [f"{kind} {number(usage[f'{kind}_bytes'])} bytes" for kind in ("paged", "nonpaged")
                if isinstance(usage.get(f"{kind}_bytes"), int)]
        if isinstance(usage.get("paged_limit"), int):
            pool.append(f"paged limit {number(usage['paged_limit'])} bytes")
        if pool:
            lines.append(("Pool in use", ", ".join(pool)))
    hit = report.get("pool_hit_tag")
    if isinstance(hit, dict):
        brk = hit.get("break")
        where = f"; broke at {format_address(brk.get('address', 0), arch)}" if isinstance(brk, dict) else ""
        lines.append(("PoolHitTag", f"'{display_tag(hit.get('tag', ''))}' ({hit.get('key', 0):08x}){where}"))
    elif "pool_hit_tag" in report:
        lines.append(("PoolHitTag", "not set (ffffff0f)"))
    verifier = report.get("verifier")
    if isinstance(verifier, dict):
        level = verifier.get("level", 0) or 0
        names = ", ".join(verifier_flag_names(level)) or "none"
        drivers = verifier.get("drivers") or []
        lines.append(("Verifier", f"level 0x{level:08x} ({names}); {len(drivers)} verified driver(s)"))
    elif "verifier" in report:
        lines.append(("Verifier", "off"))
    for key, value in header.items():  # the engine's other scalar extras
        if key in _HEADER_SHOWN or isinstance(value, (dict, list)) or value in (None, ""):
            continue
        lines.append((key.replace("_", " ").capitalize(), _scalar(value)))
    return lines


def _header_lines(report: Mapping) -> list[str]:
    """The header facts as aligned ``Label : value`` lines."""
    lines = header_facts(report)
    width = max(len(label) for label, _ in lines) if lines else 0
    return [f"{label:<{width}} : {value}" for label, value in lines]


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return number(value)
    return str(value)


def _coverage_value(key: str, value, arch: str) -> str:
    """A coverage figure in words: lists joined, addresses at pointer width, numbers plain."""
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_coverage_value(k, v, arch)}" for k, v in value.items()
                         if v not in (None, [], {}))
    if isinstance(value, list):
        return ", ".join(_coverage_value(key, v, arch) for v in value) or "none"
    if isinstance(value, int) and not isinstance(value, bool) and ("address" in key or key in ("va", "base")):
        return format_address(value, arch)
    return _scalar(value)


def coverage_lines(coverage: Mapping, arch: str) -> list[str]:
    """The engine's ``coverage``: one line per table read (entries read of expected, absent,
    zero-filled, at its address), then one line per other figure."""
    out = []
    for table in coverage.get("tables") or []:
        if not isinstance(table, dict):
            continue
        line = (f" {table.get('name', '?')}: {number(table.get('entries_read', 0))} of "
                f"{number(table.get('entries_expected', 0))} entries read")
        for key in ("entries_absent", "entries_zero_filled", "entries_rejected"):
            if table.get(key):
                line += f", {number(table[key])} {key.split('_', 1)[1].replace('_', ' ')}"
        if isinstance(table.get("address"), int):
            line += f" (at {format_address(table['address'], arch)})"
        out.append(line)
    for key, value in coverage.items():
        if key != "tables":
            out.append(f" {key.replace('_', ' ')}: {_coverage_value(key, value, arch)}")
    return out


def _section(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def _warning_lines(warnings: Iterable) -> list[str]:
    """A Warnings section, one `` - `` line each; nothing when there are none."""
    lines = [f" - {w}" for w in warnings]
    return _section("Warnings") + lines if lines else []


def exit_line(leaks: Mapping) -> str | None:
    """What ``--fail-on-suspect`` makes of this report, in words (the report never claims
    the process's exit status: the command decides that)."""
    status = leaks.get("exit_status")
    if status is None:
        return None
    if status:
        return "Exit thresholds: exceeded (with --fail-on-suspect, dumpscan exits with status 1)"
    return "Exit thresholds: not exceeded"


def render_leak_report(report: Mapping, query: Query | None = None, *,
                       thresholds: Thresholds | None = None) -> str:
    """The investigation report: header, suspects with their evidence, top tags, call
    sites, big pool by tag, verified drivers, warnings, coverage: the views ``suspects``,
    ``pooltags``, ``callsites``, ``bigpool`` and ``drivers`` under ``query`` (each cut to
    ``--top``, else the thresholds' ``top_n``). The report's ``leaks`` section is used
    when present, else computed with ``thresholds`` (else the query's)."""
    from dataclasses import replace

    from ..analysis.leaks import analyze

    query = query or Query()
    leaks = report.get("leaks") if isinstance(report.get("leaks"), dict) else None
    if leaks is None:
        leaks = analyze(report, thresholds or query.thresholds())
        report = dict(report, leaks=leaks)
    arch = _arch(report)
    n = query.top if query.top is not None else (leaks.get("thresholds") or {}).get("top_n", 20)
    label = report_label(report, "")
    title = f"dumpscan leak report: {label}" if label else "dumpscan leak report"
    out = [title, "=" * len(title), ""]
    out += _header_lines(report)

    suspects = VIEWS["suspects"].table(report, replace(query, top=None, sort=None, suspects_only=True))
    out += _section(f"Suspects ({len(suspects.rows)})")
    out += render_suspects(suspects, stacks=False).rstrip("\n").split("\n")

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

    top = replace(query, top=n)
    tags = [r.values for r in VIEWS["pooltags"].table(report, top).rows]
    out += _section("Top tags by outstanding bytes")
    if tags:
        out += _table(["Tag", "NP Allocs", "NP Used", "P Allocs", "P Used", "Total", "Drivers"],
                      [[display_tag(r["tag"]) + ("*" if r["partial"] else ""), r["nonpaged_outstanding"],
                        r["nonpaged_bytes"], r["paged_outstanding"], r["paged_bytes"], r["bytes"],
                        ", ".join(r["drivers"])] for r in tags], "lrrrrrl")
    else:
        out.append(" (no pool tag counters)")

    sites = VIEWS["callsites"].table(report, top).rows
    out += _section("Call sites of outstanding allocations (Driver Verifier pool tracking)")
    if sites:
        width = len(format_address(0, arch, prefix=True))
        out.append(f" {'Count':>7}  {'Bytes':>12}  {'Tags':<9}  {'Caller':<{width}}  Symbol")
        for row in sites:
            site = row.values
            out.append(f" {number(site['count']):>7}  {number(site['bytes']):>12}  "
                       f"{','.join(display_tag(t) for t in site['tags']):<9}  "
                       f"{format_address(site['caller'], arch, prefix=True):<{width}}  "
                       f"{site.get('symbol') or ''}  ({site.get('driver') or '?'})".rstrip())
            if row.children:
                out.append(f"          newest allocation's stack (trace log, "
                           f"{number(site['traced'])} of {number(site['count'])} blocks traced):")
                out += render_frames([f.values["caller"] for f in row.children],
                                     [f.values.get("symbol") for f in row.children], arch, indent="            ")
    else:
        out.append(" (none: Driver Verifier pool tracking is off or tracks no outstanding allocations)")

    big = [r.values for r in VIEWS["bigpool"].table(report, top).rows]
    out += _section("Big pool (live blocks) by tag")
    if big:
        out += _table(["Tag", "Blocks", "Bytes", "Largest"],
                      [[display_tag(g["tag"]), g["blocks"], g["bytes"], g["largest"]] for g in big], "lrrr")
    else:
        out.append(" (no live big-pool blocks)")

    out += render_pool_walk(report)

    if isinstance(report.get("verifier"), dict):
        drivers = [r.values for r in VIEWS["drivers"].table(report, top).rows]
        out += _section("Verified drivers by outstanding bytes")
        if drivers:
            def known(value):
                return "-" if value is None else value

            out += _table(["Driver", "Loaded", "NP Allocs", "NP Bytes", "P Allocs", "P Bytes", "Listed",
                           "Top caller"],
                          [[d["driver"], "yes" if d["loaded"] else "no", known(d["nonpaged_outstanding"]),
                            known(d["nonpaged_bytes"]), known(d["paged_outstanding"]), known(d["paged_bytes"]),
                            d["listed"], d["top_caller_symbol"] or (f"{d['top_caller']:#x}" if d["top_caller"]
                                                                    is not None else "")]
                           for d in drivers], "llrrrrrl")
        else:
            out.append(" (none)")

    out += _warning_lines([*(report.get("warnings") or []), *(leaks.get("warnings") or [])])
    coverage = report.get("coverage")
    if isinstance(coverage, dict) and coverage:
        out += _section("Coverage")
        out += coverage_lines(coverage, arch)
    verdict = exit_line(leaks)
    if verdict:
        out += ["", verdict]
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
    if "suspects" in diff:
        out += _growth_suspects(diff, top)
    out += _warning_lines(diff.get("warnings") or [])
    return "\n".join(out) + "\n"


def _growth_suspects(result: Mapping, top: int) -> list[str]:
    """The ``growth`` suspects of a diff or series (the first ``top``), with their evidence."""
    suspects = result.get("suspects") or []
    out = _section(f"Growth suspects ({len(suspects)})")
    for i, suspect in enumerate(suspects[:top], 1):
        out.append(f" {i}. tag '{display_tag(suspect['name'])}'  [{suspect['severity']}]  "
                   f"{number(suspect['bytes'])} bytes in {number(suspect['count'])} allocations")
        out += [f"      - {e}" for e in suspect.get("evidence") or []]
    if not suspects:
        out.append(" none")
    return out


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
    out += _growth_suspects(result, top)
    out += _warning_lines(result.get("warnings") or [])
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
    "TextFrontend", "LAYOUTS", "render_view", "render_table", "render_poolused", "render_bigpool",
    "render_verifier", "render_pool_history", "render_frames", "render_leak_report", "exit_line",
    "render_diff", "render_series", "render_batch", "bugcheck_text", "format_address",
    "verifier_flag_names", "BUGCHECK_NAMES",
]
