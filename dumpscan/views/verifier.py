"""Driver Verifier views: ``verifier`` (``!verifier 3``: verified drivers and their
outstanding allocations), ``verifierstats`` (MmVerifierData and per-driver counters) and
``history`` (``!verifier 80``: the allocate/free trace log, newest first)."""
from __future__ import annotations

from collections.abc import Mapping

from .match import driver_matcher, enough, tag_matcher
from .model import Column, Row, Table, View
from .options import Query

NOT_ENABLED = "Driver Verifier is not enabled in this dump (no MmVerifierData settings)"
HISTORY_RECORDS = 20  # the trace log without --address or --top: the 20 newest records


def _verifier(report: Mapping) -> dict | None:
    verifier = report.get("verifier")
    return verifier if isinstance(verifier, dict) else None


def canonical_address(value: int, arch: str) -> int:
    """x64: a 48-bit address with bit 47 set gets its upper 16 bits set (the report's
    addresses are canonical); x86: the low 32 bits."""
    if arch == "x86":
        return value & 0xFFFFFFFF
    value &= 0xFFFFFFFFFFFFFFFF
    if value >> 48 == 0 and value & (1 << 47):
        value |= 0xFFFF << 48
    return value


# ---------------------------------------------------------------------------------------
# verifier (!verifier 3)

VERIFIER_COLUMNS = (
    Column("driver", "str", "The verified driver"),
    Column("loaded", "bool", "Whether the driver is loaded"),
    Column("address", "address", "Driver row: its verifier entry (!verifier's MODULE: line); "
                                 "allocation row: the block"),
    Column("length", "hex", "Driver row: the bytes of its listed allocations; allocation row: "
                            "NumberOfBytes as stored"),
    Column("tag", "tag", "The allocation's pool tag"),
    Column("key", "hex", "The tag as stored"),
    Column("caller", "address", "The return address in the driver"),
    Column("caller_symbol", "str", "The caller's symbol", title="CallerSymbol"),
)


def select_verifier(report: Mapping, query: Query) -> dict | None:
    """A copy of ``report['verifier']`` keeping the drivers matching ``--driver`` and, of
    their allocations, those matching ``--tag`` with at least ``--min-bytes`` (None when
    Driver Verifier is off)."""
    verifier = _verifier(report)
    if verifier is None:
        return None
    match_tag, match_driver = tag_matcher(query.tag), driver_matcher(query.driver)
    kept = []
    for driver in verifier.get("drivers") or []:
        if not isinstance(driver, dict) or not match_driver(driver.get("name", "")):
            continue
        driver = dict(driver)
        driver["allocations"] = [a for a in driver.get("allocations") or [] if isinstance(a, dict)
                                 and match_tag(a.get("tag", "")) and enough(a.get("length", 0), query.min_bytes)]
        kept.append(driver)
    return dict(verifier, drivers=kept)


def _entry_address(driver: Mapping) -> int | None:
    """The driver's verifier entry: the address !verifier prints on its MODULE: line (the
    engine's ``entry`` for a driver found by its suspect record, else ``verified_data``)."""
    for name in ("entry", "verified_data"):
        value = driver.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def build_verifier(report: Mapping, query: Query) -> Table:
    selected = select_verifier(report, query)
    context = {"verifier": selected,
               "drivers": selected["drivers"] if selected is not None else []}
    if selected is None:
        return Table(VERIFIER, [], context, [NOT_ENABLED])
    rows = []
    for driver in selected["drivers"]:
        name, loaded = driver.get("name", "?"), bool(driver.get("loaded"))
        allocations = sorted(driver["allocations"], key=lambda a: a.get("address", 0), reverse=True)
        allocations = query.limit(allocations)
        children = [Row({"driver": name, "loaded": loaded, "address": a.get("address", 0),
                         "length": a.get("length", 0), "tag": a.get("tag", ""), "key": a.get("key"),
                         "caller": a.get("caller", 0), "caller_symbol": a.get("caller_symbol")})
                    for a in allocations]
        rows.append(Row({"driver": name, "loaded": loaded, "address": _entry_address(driver),
                         "length": sum(a.get("length", 0) for a in driver["allocations"])}, children))
    return Table(VERIFIER, rows, context)


VERIFIER = View(
    "verifier", "!verifier 3",
    "Driver Verifier pool tracking: one row per verified driver, its outstanding tracked "
    "allocations (highest address first, as !verifier 3 lists them) as child rows; CSV and "
    "JSON list the allocations.",
    VERIFIER_COLUMNS, ("tag", "driver", "min_bytes", "top"), build_verifier, flat_depth=1,
    layout="verifier")


# ---------------------------------------------------------------------------------------
# drivers

DRIVER_COLUMNS = (
    Column("driver", "str", "The verified driver"),
    Column("loaded", "bool", "Whether the driver is loaded"),
    Column("nonpaged_outstanding", "int", "Nonpaged allocations outstanding (its counters)",
           title="NonPagedOutstanding"),
    Column("nonpaged_bytes", "bytes", "Nonpaged bytes outstanding", title="NonPagedBytes"),
    Column("paged_outstanding", "int", "Paged allocations outstanding"),
    Column("paged_bytes", "bytes", "Paged bytes outstanding"),
    Column("bytes", "bytes", "Outstanding bytes (counters, else the listed allocations)"),
    Column("listed", "int", "Outstanding allocations listed in its tracking tables"),
    Column("top_caller", "address", "The caller holding the most bytes"),
    Column("top_caller_symbol", "str", "Its symbol"),
)


def build_drivers(report: Mapping, query: Query) -> Table:
    from ..analysis.leaks import driver_summaries

    match_tag, match_driver = tag_matcher(query.tag), driver_matcher(query.driver)
    rows = []
    for d in driver_summaries(report, top=None):
        if not match_driver(d["name"]) or not enough(d["bytes"], query.min_bytes) \
                or (query.tag and not any(match_tag(g["tag"]) for g in d.get("by_tag") or [])):
            continue
        top = (d.get("by_caller") or [{}])[0]
        rows.append(Row({"driver": d["name"], "loaded": d["loaded"],
                         "nonpaged_outstanding": d.get("nonpaged_outstanding"),
                         "nonpaged_bytes": d.get("nonpaged_bytes"), "paged_outstanding": d.get("paged_outstanding"),
                         "paged_bytes": d.get("paged_bytes"), "bytes": d["bytes"], "listed": d["listed"],
                         "top_caller": top.get("caller"), "top_caller_symbol": top.get("symbol")}))
    rows = query.limit(rows)
    notes = [] if _verifier(report) is not None else [NOT_ENABLED]
    return Table(DRIVERS, rows, notes=notes)


DRIVERS = View(
    "drivers", "verified drivers",
    "Verified drivers by outstanding bytes: their pool counters, the allocations listed in "
    "their tracking tables, and the caller holding the most bytes.",
    DRIVER_COLUMNS, ("tag", "driver", "min_bytes", "top"), build_drivers)


# ---------------------------------------------------------------------------------------
# verifierstats

STATS_COLUMNS = (
    Column("scope", "str", "MmVerifierData, flags, VfPoolTraces, or a driver's name"),
    Column("counter", "str", "The counter (a structure member) or flag name"),
    Column("value", "int", "Its value"),
)


def build_verifierstats(report: Mapping, query: Query) -> Table:
    from ..analysis.engine import verifier_flag_names

    verifier = select_verifier(report, query)
    if verifier is None:
        return Table(VERIFIERSTATS, [], notes=[NOT_ENABLED])
    level = verifier.get("level", 0) or 0
    rows = [("MmVerifierData", "Level", level)]
    rows += [("flags", name, 1) for name in verifier_flag_names(level)]
    rows += [("MmVerifierData", name, value) for name, value in (verifier.get("stats") or {}).items()
             if name != "Level" and isinstance(value, int)]
    if isinstance(verifier.get("trace_length"), int):
        rows += [("VfPoolTraces", "Length", verifier["trace_length"]),
                 ("VfPoolTraces", "Records", len(verifier.get("trace_log") or []))]
    for driver in verifier["drivers"]:
        name = driver.get("name", "?")
        allocations = driver.get("allocations") or []
        rows += [(name, "Loaded", int(bool(driver.get("loaded")))),
                 (name, "ListedAllocations", len(allocations)),
                 (name, "ListedBytes", sum(a.get("length", 0) for a in allocations))]
        rows += [(name, counter, value) for counter, value in (driver.get("counters") or {}).items()
                 if isinstance(value, int)]
    return Table(VERIFIERSTATS, [Row(dict(zip(("scope", "counter", "value"), r))) for r in rows])


VERIFIERSTATS = View(
    "verifierstats", "Driver Verifier statistics",
    "The MmVerifierData statistics, the enabled verifier flags, the trace log's length and "
    "each verified driver's counters, one counter a row.",
    STATS_COLUMNS, ("driver",), build_verifierstats)


# ---------------------------------------------------------------------------------------
# history (!verifier 80)

HISTORY_COLUMNS = (
    Column("index", "int", "The record's slot in the VfPoolTraces ring"),
    Column("kind", "str", "allocate or free (frame for a stack frame's child row)"),
    Column("address", "address", "The block (a frame row: the return address)"),
    Column("size", "hex", "The block's size as logged"),
    Column("thread", "address", "The thread that allocated or freed it"),
    Column("symbol", "str", "A frame row's symbol", flat=False),
    Column("frames", "list", "The stack: return address and symbol per frame", joiner=";", tree=False),
)


def history_records(report: Mapping, query: Query) -> list[dict]:
    """Trace-log records newest first, as ``!verifier 80`` prints them: those of the block
    at ``--address``, else the ``--top`` newest (default 20)."""
    verifier = _verifier(report)
    if verifier is None:
        return []
    records = [r for r in reversed(verifier.get("trace_log") or []) if isinstance(r, dict)]
    if query.address is not None:
        from ..analysis.leaks import machine

        arch = machine(report)
        wanted = canonical_address(query.address, arch)
        records = [r for r in records if canonical_address(r.get("address", 0), arch) == wanted]
        return query.limit(records)
    return query.limit(records, HISTORY_RECORDS)


def _trace_length(report: Mapping) -> int | None:
    from ..analysis.leaks import report_header

    header = report_header(report)
    for value in ((_verifier(report) or {}).get("trace_length"), header.get("verifier_trace_length"),
                  header.get("trace_length")):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def build_history(report: Mapping, query: Query) -> Table:
    from ..analysis.leaks import machine

    arch = machine(report)
    verifier = _verifier(report)
    address = canonical_address(query.address, arch) if query.address is not None else None
    context = {"arch": arch, "address": address, "trace_length": _trace_length(report),
               "records": len((verifier or {}).get("trace_log") or []), "enabled": verifier is not None}
    if verifier is None:
        return Table(HISTORY, [], context, [NOT_ENABLED + ": there is no pool allocate/free log"])
    notes = [] if verifier.get("trace_log") else ["the Driver Verifier pool trace log (VfPoolTraces) holds no records"]
    rows = []
    for record in history_records(report, query):
        stack, symbols = record.get("stack") or [], record.get("symbols") or []
        named = [symbols[i] if i < len(symbols) else None for i in range(len(stack))]
        frames = [Row({"index": record.get("index"), "kind": "frame", "address": frame, "symbol": symbol})
                  for frame, symbol in zip(stack, named)]
        rows.append(Row({"index": record.get("index"), "kind": record.get("kind") or "unknown",
                         "address": record.get("address", 0), "size": record.get("size", 0),
                         "thread": record.get("thread", 0),
                         "frames": [f"{f:#x} {s}" if s else f"{f:#x}" for f, s in zip(stack, named)]},
                        frames))
    if address is not None and not rows:
        notes.append(f"no log entries for address {address:#x}")
    context["shown"] = len(rows)
    return Table(HISTORY, rows, context, notes)


HISTORY = View(
    "history", "!verifier 80",
    "The Driver Verifier pool allocate/free log (VfPoolTraces), newest first: the records "
    "of the block at --address, else the --top newest (default 20); each record's stack "
    "frames as child rows.",
    HISTORY_COLUMNS, ("address", "top"), build_history, layout="history")
