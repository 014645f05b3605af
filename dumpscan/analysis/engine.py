"""The analysis engine: an opened dump in, a ``dumpscan.report/1`` document out.

``analyze_view`` runs the readers of ``dumpscan.kernel`` over the KernelView, then
the pure analyses (symbolization, totals, attribution), and lays the results out in
the report schema: every field the schema (and a factory truth) has, plus

* ``warnings``: one-line strings (every reader's, every failed section's);
* ``coverage``: per table the entries expected/read/absent, the tag tables read,
  the dump's page coverage, tracker pages and AVL nodes walked;
* ``header``: the investigation header (kernel build, dump type and page coverage,
  uptime, system time, bug check, PoolHitTag, Driver Verifier level/flags/drivers,
  MmSpecialPoolTag, pool usage against the limits the symbols give);
* per tag: ``paged_outstanding`` / ``nonpaged_outstanding`` and ``drivers`` (owners);
* ``bigpool_by_tag``: live big-pool blocks per tag, cross-checked with the tag tables;
* per verifier allocation: ``slot``, ``special_pool``, ``trailer``, ``pool_type`` when
  known; per trace record: ``symbols`` (parallel to ``stack``); the trace length and
  index, the configured (suspect) drivers.

Each section is computed on its own: one that fails becomes a warning and a null or
empty value, never an exception out of ``analyze_view``.
"""
from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..dumpfile.headers import DUMP_TYPE_NAMES, FILETIME_UNIX_EPOCH
from ..kernel.bigpool import BigPoolTable, read_big_pool
from ..kernel.common import key_tag, pool_type_bits, read_c_string, read_global, read_unicode_string
from ..kernel.modules import Module, code_ranges, read_modules
from ..kernel.poolhittag import CodeMap, PoolHitTag, read_pool_hit_tag
from ..kernel.poolwalk import read_pool_blocks
from ..kernel.processes import read_processes
from ..kernel.tagtables import TagTotals, read_tag_tables
from ..kernel.tracelog import TraceLog, classify, read_trace_log
from ..kernel.verifier import TRAILER_TEXT, VerifierState, read_verifier
from ..kernel.view import KernelView, MemoryAbsent
from ..report.schema import SCHEMA_ID, SCHEMA_VERSION
from ..symbols.pe import CodeViewError, read_codeview
from .attribution import attribute, load_pooltag, search_images
from .poolblocks import agreement, block_rows
from .symbolize import Symbolizer, build_symbolizer
from .totals import bigpool_by_tag, bigpool_rows, tag_rows

MAX_UPTIME_SECONDS = 100 * 365 * 86400  # SystemUpTime beyond a century is corrupt
BUGCHECK_NAMES = {
    0x0A: "IRQL_NOT_LESS_OR_EQUAL", 0x19: "BAD_POOL_HEADER", 0x1A: "MEMORY_MANAGEMENT",
    0x1E: "KMODE_EXCEPTION_NOT_HANDLED", 0x3B: "SYSTEM_SERVICE_EXCEPTION",
    0x41: "MUST_SUCCEED_POOL_EMPTY", 0x4E: "PFN_LIST_CORRUPT",
    0x50: "PAGE_FAULT_IN_NONPAGED_AREA", 0x7E: "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
    0x7F: "UNEXPECTED_KERNEL_MODE_TRAP", 0x9F: "DRIVER_POWER_STATE_FAILURE",
    0xC2: "BAD_POOL_CALLER", 0xC4: "DRIVER_VERIFIER_DETECTED_VIOLATION",
    0xC5: "DRIVER_CORRUPTED_EXPOOL", 0xCD: "PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
    0xD1: "DRIVER_IRQL_NOT_LESS_OR_EQUAL", 0xD6: "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
    0xE2: "MANUALLY_INITIATED_CRASH", 0xEF: "CRITICAL_PROCESS_DIED",
    0x101: "CLOCK_WATCHDOG_TIMEOUT", 0x124: "WHEA_UNCORRECTABLE_ERROR",
    0x133: "DPC_WATCHDOG_VIOLATION", 0x139: "KERNEL_SECURITY_CHECK_FAILURE",
    0x13A: "KERNEL_MODE_HEAP_CORRUPTION", 0x161: "LIVE_SYSTEM_DUMP",
    0xDEADDEAD: "MANUALLY_INITIATED_CRASH1",
}
# Driver Verifier flag bits as `!verifier` prints them (both seed articles / S12).
VERIFIER_FLAGS = {
    0x1: "Special pool", 0x2: "Force IRQL checking", 0x4: "Randomized low resources simulation",
    0x8: "Pool tracking", 0x10: "I/O verification", 0x20: "Deadlock detection",
    0x80: "DMA checking", 0x100: "Security checks", 0x200: "Force pending I/O requests",
    0x400: "IRP logging", 0x800: "Miscellaneous checks", 0x2000: "Invariant MDL checking for stack",
    0x4000: "Invariant MDL checking for driver", 0x8000: "Power framework delay fuzzing",
    0x20000: "DDI compliance checking", 0x40000: "Systematic low resources simulation",
    0x80000: "DDI compliance checking (additional)", 0x200000: "NDIS/WIFI verification",
    0x800000: "Kernel synchronization delay fuzzing", 0x1000000: "VM switch verification",
}
TRACKER_PAGE_TAG = int.from_bytes(b"Vepp", "little")  # Driver Verifier's tracker pages (doc §3.6)
POOL_LIMIT_SYMBOLS = {"paged_limit": "MmSizeOfPagedPoolInBytes",
                      "nonpaged_limit": "MmMaximumNonPagedPoolInBytes",
                      "nonpaged_initial": "MmSizeOfNonPagedPoolInBytes"}


def verifier_flag_names(level: int) -> list[str]:
    names = [name for bit, name in VERIFIER_FLAGS.items() if level & bit]
    unknown = level & ~sum(VERIFIER_FLAGS)
    if unknown:
        names.append(f"other bits {unknown:#x}")
    return names


def analyze_path(path: str | Path, symbol_dirs: Sequence[str | Path], pooltag_file: str | Path | None = None,
                 *, dtb: int | None = None, kernel_base: int | None = None, **options: Any) -> dict:
    """Open ``path`` (``dumpscan.vol.open.open_kernel``; ``dtb`` and ``kernel_base``
    override the header's page-table base and kernel base) and analyze it. A triage (small
    memory) dump has no kernel address space: ``analysis.triage`` reports what it says."""
    from ..vol.open import open_kernel  # the Volatility bridge is only needed here
    from .triage import is_triage_dump, triage_report

    if is_triage_dump(path):
        return triage_report(path)
    dirs = [Path(d) for d in symbol_dirs]
    opened = open_kernel(path, dirs, dtb=dtb, kernel_base=kernel_base)
    try:
        report = analyze_view(opened, dirs, pooltag_file, **options)
    finally:
        try:
            opened.dump.close()
        except Exception:  # pragma: no cover - closing never matters for the result
            pass
    report["header"]["dump"] = str(path)
    return report


def analyze_view(opened, symbol_dirs: Sequence[str | Path] = (), pooltag_file: str | Path | None = None,
                 *, check_trailers: bool = True, search_tag_owners: bool = True,
                 walk_pool: bool = True) -> dict:
    """The report of an opened dump (``OpenedDump``: ``.view``, ``.dump``, ``.warnings``).
    ``walk_pool=False`` leaves the pool walk out (``pool_blocks`` null, coverage says why):
    a front end that shows no block saves the walk's time and the blocks' memory."""
    return _Analysis(opened, [Path(d) for d in symbol_dirs], pooltag_file, check_trailers,
                     search_tag_owners, walk_pool).run()


def analyze_plugin(context, kernel_module_name: str, symbol_dirs: Sequence[str | Path] = (),
                   pooltag_file: str | Path | None = None, **options: Any) -> dict:
    """The report of the kernel a Volatility plugin's ModuleRequirement resolved (the
    entry point of the plugins in ``plugins/``): the KernelView comes from
    ``dumpscan.vol.plugin.view_from_plugin``, the dump header from the crash dump under
    the kernel layer (dumpscan's ``CrashDumpLayer``, else the file the bottom layer reads).
    ``symbol_dirs``: where driver symbol tables are looked for (Volatility's ``-s``)."""
    from ..vol.plugin import crash_dump_under, view_from_plugin

    view = view_from_plugin(context, kernel_module_name)
    dump, owned = crash_dump_under(context, context.modules[kernel_module_name].layer_name)

    class _Opened:  # what analyze_view needs of an OpenedDump
        pass

    opened = _Opened()
    opened.view, opened.dump, opened.warnings = view, dump, list(dump.warnings)
    try:
        report = analyze_view(opened, symbol_dirs, pooltag_file, **options)
    finally:
        if owned:
            dump.close()
    report["header"]["dump"] = dump.path
    return report


class _Analysis:
    def __init__(self, opened, symbol_dirs: list[Path], pooltag_file, check_trailers: bool,
                 search_tag_owners: bool, walk_pool: bool = True) -> None:
        self.walk_pool = walk_pool
        self.view: KernelView = opened.view
        self.dump = opened.dump
        self.header = opened.dump.header
        self.symbol_dirs = symbol_dirs
        self.pooltag_file = pooltag_file
        self.check_trailers = check_trailers
        self.search_tag_owners = search_tag_owners
        self.warnings: list[str] = list(getattr(opened, "warnings", []) or [])
        self.coverage: dict[str, Any] = {"tables": []}
        self.modules: list[Module] = []
        self.symbolizer = Symbolizer([], {})
        self.big: BigPoolTable | None = None
        self.totals: TagTotals | None = None
        self.verifier: VerifierState | None = None
        self.trace: TraceLog | None = None
        self.hit: PoolHitTag | None = None
        self.tags_partial: list[dict] = []

    # -- plumbing -------------------------------------------------------------------------
    def guarded(self, what: str, default, fn: Callable[[], Any]):
        try:
            return fn()
        except MemoryAbsent as exc:  # a global or pointer the section starts from is missing
            self.warnings.append(f"{what}: not read: {exc} [{_where(exc)}]")
            return default
        except Exception as exc:  # one section failing never takes the others down
            self.warnings.append(f"{what}: failed ({type(exc).__name__}: {exc}) [{_where(exc)}]")
            return default

    def warn(self, messages) -> None:
        for message in messages:
            if message not in self.warnings:
                self.warnings.append(message)

    def run(self) -> dict:
        report: dict[str, Any] = {"schema": SCHEMA_ID, "schema_version": SCHEMA_VERSION}
        report["dump"] = self.guarded("dump header", None, self.dump_section)
        report["kernel"] = self.guarded("kernel identity", None, self.kernel_section)
        report["modules"] = self.guarded("loaded modules", [], self.modules_section)
        self.guarded("symbolization", None, self.build_symbols)
        report["bigpool"] = self.guarded("big pool table", [], self.bigpool_section)
        report["tags"] = self.guarded("pool tag tables", [], self.tags_section)
        report["tags_partial"] = self.tags_partial
        report["bigpool_by_tag"] = self.guarded("big pool by tag", [], self.bigpool_by_tag_section)
        report["pool_blocks"] = self.guarded("pool blocks", None,
                                             lambda: self.pool_blocks_section(report["tags"]))
        report["processes"] = self.guarded("process list", None, self.processes_section)
        report["verifier"] = self.guarded("Driver Verifier", None, self.verifier_section)
        report["pool_hit_tag"] = self.guarded("PoolHitTag", None, self.pool_hit_tag_section)
        self.guarded("tag owners", None, lambda: self.owners_section(report))
        report["header"] = self.guarded("investigation header", {}, lambda: self.header_section(report))
        self.coverage.setdefault("modules", {})["symbols_wanted"] = self.symbolizer.wanted_tables()
        report["coverage"] = self.coverage
        report["warnings"] = self.warnings
        return report

    # -- dump / kernel / modules ---------------------------------------------------------
    def dump_section(self) -> dict:
        h = self.header
        return {"dump_type": h.dump_type, "kind": "kernel", "machine": h.machine, "dtb": h.dtb or 0,
                "bugcheck": {"code": h.bugcheck_code or 0,
                             "parameters": [int(p or 0) for p in (list(h.bugcheck_parameters) + [0] * 4)[:4]],
                             "name": BUGCHECK_NAMES.get(h.bugcheck_code or 0, "")},
                "summary_signature": h.summary_signature, "pages_present": int(self.dump.pages_present),
                "pages_covered": int(getattr(self.dump, "bitmap_pages", 0) or 0)}

    def kernel_section(self) -> dict:
        view = self.view
        source = "CodeView"
        try:
            pdb = read_codeview(view.read, view.kernel_base)
            name, guid, age = pdb.name, pdb.guid, pdb.age
        except CodeViewError as exc:
            if not view.symbols.pdb:
                raise
            self.warnings.append(f"kernel CodeView record unreadable ({exc}); identity taken from "
                                 "the symbol table")
            name, guid, age = view.symbols.pdb
            source = "symbol table"
        if view.symbols.pdb and view.symbols.pdb[1:] != (guid, age):
            self.warnings.append(f"the symbol table names {view.symbols.pdb[1]}-{view.symbols.pdb[2]}, "
                                 f"the kernel image {guid}-{age}")
        return {"pdb": name, "guid": guid, "age": age, "base": view.canonical(view.kernel_base),
                "symbols": view.symbols.source, "identity_from": source,
                "pointer_size": view.pointer_size}

    def modules_section(self) -> list[dict]:
        head = self.header.ps_loaded_module_list
        if self.view.has_symbol("PsLoadedModuleList"):
            symbol = self.view.symbol("PsLoadedModuleList")
            if head and self.view.canonical(head) != symbol:
                self.warnings.append(f"the dump header's PsLoadedModuleList {head:#x} is not "
                                     f"nt!PsLoadedModuleList {symbol:#x}; the header's is used")
            head = head or symbol
        listed = read_modules(self.view, self.view.canonical(head) if head else None)
        self.warn(listed.warnings)
        self.modules = list(listed.modules)
        self.coverage["modules"] = {"listed": len(self.modules), "complete": listed.complete,
                                    "entry_type": listed.entry_type}
        return [{"name": m.name, "base": m.base, "size": m.size, "path": m.full_name}
                for m in self.modules]

    def build_symbols(self) -> None:
        self.symbolizer = build_symbolizer(self.view, self.modules, self.symbol_dirs, self.warnings)
        self.coverage["modules"] = {**self.coverage.get("modules", {}),
                                    "with_symbols": [self.modules[i].name for i in
                                                     sorted(self.symbolizer.functions)]}

    # -- pool --------------------------------------------------------------------------------
    def bigpool_section(self) -> list[dict]:
        self.big = read_big_pool(self.view)
        self.warn(self.big.warnings)
        self.coverage["tables"].append(self.big.coverage())
        self.coverage["bigpool"] = {"entries_in_use": self.big.in_use,
                                    "ExpPoolBigEntriesInUse": self.big.in_use_counter,
                                    "entries_with_key": int(len(self.big.entries))}
        return bigpool_rows(self.big)

    def tags_section(self) -> list[dict]:
        self.totals = read_tag_tables(self.view, self.header.number_processors)
        self.warn(self.totals.warnings)
        for table in self.totals.tables:
            self.coverage["tables"].append(table.coverage())
        self.coverage["tag_tables_read"] = [t.source for t in self.totals.tables]
        self.coverage["tag_table_slots_examined"] = self.totals.slots_examined
        self.coverage["processors"] = self.totals.processors
        rows = tag_rows(self.totals)
        if self.totals.partial is None or not self.totals.partial.any():
            return rows
        # totals that lack a table's entry are listed apart, never as a tag's total
        partial = self.totals.partial.tolist()
        self.tags_partial = [{**row, "partial": True} for row, p in zip(rows, partial) if p]
        return [row for row, p in zip(rows, partial) if not p]

    def bigpool_by_tag_section(self) -> list[dict]:
        if self.big is None:
            return []
        rows, warnings = bigpool_by_tag(self.big, self.totals)
        self.warn(warnings)
        return rows

    def processes_section(self) -> list[dict] | None:
        """The process list (None where the symbols describe no _EPROCESS links)."""
        if not self.view.has_type("_EPROCESS") or \
                "ActiveProcessLinks" not in self.view.layout("_EPROCESS").members:
            self.coverage["processes"] = ("not read: the symbol table describes no "
                                          "_EPROCESS.ActiveProcessLinks")
            return None
        listed = read_processes(self.view)
        self.warn(listed.warnings)
        self.coverage["processes"] = {
            "listed": len(listed.processes), "complete": listed.complete,
            "pool_quota": "read" if listed.quota_layout else
            "not read: the symbols describe no _EPROCESS_QUOTA_BLOCK"}
        return [{"address": p.address, "pid": p.pid, "ppid": p.ppid, "name": p.name}
                for p in listed.processes]

    def pool_blocks_section(self, tags: list[dict]) -> dict | None:
        """Every pool block (walk + big-pool table) and its agreement with the tag tables."""
        if not self.walk_pool:
            self.coverage["pool_blocks"] = "not walked (the caller asked for no pool walk)"
            return None
        walk = read_pool_blocks(self.view, self.big)
        self.warn(walk.warnings)
        rows, coverage = agreement(walk, tags if self.totals is not None else [])
        if self.totals is None:
            self.warnings.append("pool blocks: no tag tables, so no agreement check")
        self.coverage["pool_blocks"] = coverage
        return {"walk": walk.walk, "blocks": block_rows(walk.blocks), "agreement": rows,
                "coverage": coverage}

    # -- verifier ------------------------------------------------------------------------------
    def verifier_section(self) -> dict | None:
        view = self.view
        extra: list[tuple[int, str | None]] = []
        code = self.header.bugcheck_code
        params = list(self.header.bugcheck_parameters) + [None] * 4
        if code == 0xC4 and params[0] in (0x60, 0x62) and params[2]:
            hint = None
            try:
                hint = read_unicode_string(view, view.canonical(params[1])) if params[1] else None
            except Exception:  # a name hint only
                hint = None
            extra.append((params[2], hint))
        candidates: tuple[int, ...] = ()
        if self.big is not None and len(self.big.entries):
            entries = self.big.entries
            vepp = ((entries["key"] & 0x7FFFFFFF) == TRACKER_PAGE_TAG) & ~entries["free"] \
                & ((entries["va"] & 0xFFF) == 0)
            candidates = tuple(entries["va"][vepp].tolist())
        state = read_verifier(view, self.modules, tuple(extra), check_trailers=self.check_trailers,
                              tracker_page_candidates=candidates)
        self.verifier = state
        self.warn(state.warnings)
        trace = self.guarded("verifier trace log", None, lambda: read_trace_log(view, modules=self.modules))
        self.trace = trace
        if trace is not None:
            self.warn(trace.warnings)
            self.coverage["tables"].append(trace.coverage())
        self.coverage["verifier"] = {
            "avl_tables": state.tables_no, "avl_nodes_walked": state.nodes_walked,
            "avl_node_count": state.node_count,
            "tracker_pages": sum(len(d.pages) for d in state.drivers),
            "rejected_tracker_pages": sum(d.rejected_pages for d in state.drivers),
            "free_tracker_slots": sum(d.free_slots for d in state.drivers)}
        if not state.enabled and trace is None:
            return None
        drivers = self.verifier_drivers(state)
        return {"level": state.level, "stats": dict(state.stats), "drivers": drivers,
                "trace_log": self.trace_rows(trace) if trace is not None else [],
                "flags": verifier_flag_names(state.level), "address": state.address,
                "suspect_drivers": [{"name": s.name, "loads": s.loads, "unloads": s.unloads,
                                     "address": s.address} for s in state.suspects],
                "trace_length": trace.length if trace is not None else 0,
                "trace_index": trace.index if trace is not None else 0,
                "avl_node_count": state.node_count}

    def verifier_drivers(self, state: VerifierState) -> list[dict]:
        loaded_names = {m.name.lower() for m in self.modules}
        rows: dict[str, dict] = {}
        for suspect in state.suspects:
            rows.setdefault(suspect.name.lower(), {"name": suspect.name, "loaded": False,
                                                   "counters": None, "allocations": [],
                                                   "entry": suspect.address})
        big_types = {}
        if self.big is not None and len(self.big.entries):
            live = self.big.entries[~self.big.entries["free"]]
            big_types = dict(zip(live["va"].tolist(), live["pool_type"].tolist()))
        for driver in state.drivers:
            key = driver.name.lower()
            row = rows.setdefault(key, {"name": driver.name})
            # loaded = in ViTargetDriversAvl (or the module list) with accepted verified data
            loaded = driver.signature_ok and (driver.source == "avl" or key in loaded_names)
            allocations = self.allocation_rows(driver.allocations, big_types)
            row.update({"loaded": loaded, "counters": driver.counters,
                        "allocations": allocations if driver.counters is not None else [],
                        "dll_base": driver.dll_base, "image_size": driver.range_size,
                        "verified_data": driver.data, "found_by": driver.source,
                        "tracker_pages": len(driver.pages), "free_slots": driver.free_slots,
                        "outstanding": len(allocations),
                        "outstanding_bytes": int(driver.allocations["length"].sum())
                        if len(driver.allocations) else 0})
        return sorted(rows.values(), key=lambda r: r["name"])

    def allocation_rows(self, allocations: np.ndarray, big_types: dict[int, int]) -> list[dict]:
        symbol = self.symbolizer.symbol
        callers = {c: symbol(c) for c in np.unique(allocations["caller"]).tolist()} if len(allocations) else {}
        paged_bit, _ = pool_type_bits(self.view)  # from the ISF's _POOL_TYPE enum
        rows = []
        for slot, address, special, caller, length, key, trailer, header_type in allocations.tolist():
            row = {"address": address, "length": length, "key": key, "tag": key_tag(key),
                   "caller": caller, "caller_symbol": callers[caller], "slot": slot,
                   "special_pool": special, "trailer": TRAILER_TEXT[trailer]}
            pool_type = big_types.get(address) if address % 0x1000 == 0 else None
            if pool_type is None and header_type >= 0:
                pool_type = header_type
            if pool_type is not None:
                row["pool_type"] = pool_type
                row["paged"] = bool(pool_type & paged_bit)
            rows.append(row)
        return rows

    def trace_rows(self, trace: TraceLog) -> list[dict]:
        kinds, warnings = classify(trace, self.symbolizer.function_of)
        self.warn(warnings)
        symbol = self.symbolizer.symbol
        rows = []
        stacks = trace.stacks.tolist()
        for slot, address, size, thread, kind, frames in zip(
                trace.slots.tolist(), trace.addresses.tolist(), trace.sizes.tolist(),
                trace.threads.tolist(), kinds, stacks):
            stack = [f for f in frames if f]
            rows.append({"index": slot, "address": address, "size": size, "thread": thread,
                         "kind": kind, "stack": stack, "symbols": [symbol(f) for f in stack]})
        self.check_trace_against_allocations(rows)
        return rows

    def check_trace_against_allocations(self, rows: list[dict]) -> None:
        """Doc §3.8 [M]: the newest record of an outstanding block looks like an allocation."""
        if self.verifier is None:
            return
        newest: dict[int, str] = {}
        for row in rows:
            newest[row["address"]] = row["kind"]
        odd = 0
        for driver in self.verifier.drivers:
            for address in driver.allocations["address"].tolist():
                if newest.get(address) == "free":
                    odd += 1
        if odd:
            self.warnings.append(f"trace log: {odd} outstanding blocks whose newest trace record is a free")

    # -- PoolHitTag ------------------------------------------------------------------------------
    def pool_hit_tag_section(self) -> dict | None:
        view = self.view
        ranges: list[tuple[int, int]] = []
        for module in self.modules:
            ranges += code_ranges(view, module)
        kernel = next((m for m in self.modules if m.base == view.kernel_base), None)
        hit = read_pool_hit_tag(view, self.header.bugcheck_code, list(self.header.bugcheck_parameters),
                                self.header.context or {}, CodeMap(ranges),
                                function_start=self.symbolizer.function_start,
                                kernel_range=(kernel.base, kernel.end) if kernel else None)
        self.hit = hit
        self.warn(hit.warnings)
        if not hit.enabled:
            return None
        out: dict[str, Any] = {"key": hit.key, "tag": key_tag(hit.key), "break": None}
        if hit.break_ is not None:
            symbol = self.symbolizer.symbol
            frames = hit.break_
            out["break"] = {
                "address": frames.address, "return_addresses": frames.return_addresses,
                "symbol": symbol(frames.address),
                "symbols": [symbol(a) for a in frames.return_addresses],
                "stack_pointer": frames.stack_pointer, "scanned_bytes": frames.scanned_bytes,
                "frames": [{"stack_address": f.stack_address, "return_address": f.return_address,
                            "symbol": symbol(f.return_address), "call": f.call,
                            "call_target": f.call_target, "callee_match": f.callee_match}
                           for f in frames.frames]}
        return out

    # -- attribution ------------------------------------------------------------------------------
    def owners_section(self, report: dict) -> None:
        keys: set[int] = {row["key"] for row in (report.get("tags") or []) + (report.get("tags_partial") or [])}
        keys |= {row["key"] for row in report.get("bigpool_by_tag") or []}
        verifier_owners: dict[int, set[str]] = {}
        if self.verifier is not None:
            for driver in self.verifier.drivers:
                # the module of each tracked block's caller (normally the verified driver)
                pairs = {(k, c) for k, c in zip(driver.allocations["key"].tolist(),
                                                driver.allocations["caller"].tolist())}
                for key, caller in pairs:
                    module = self.symbolizer.module_of(caller)
                    verifier_owners.setdefault(key, set()).add(module.name if module else driver.name)
                    keys.add(key)
        hits: dict[int, list[str]] = {}
        if self.search_tag_owners and keys:
            hits, warnings = search_images(self.view, self.modules, keys)
            self.warn(warnings)
        pooltag = {}
        if self.pooltag_file:
            pooltag = load_pooltag(self.pooltag_file)
        owners = attribute(keys, hits, pooltag, verifier_owners)
        self.owners = owners
        for row in (report.get("tags") or []) + (report.get("tags_partial") or []):
            row["drivers"] = [o.as_dict() for o in owners.get(row["key"], [])]
        for row in report.get("bigpool_by_tag") or []:
            row["drivers"] = [o.as_dict() for o in owners.get(row["key"], [])]

    # -- header ----------------------------------------------------------------------------------
    def header_section(self, report: dict) -> dict:
        h = self.header
        out: dict[str, Any] = {"machine": h.machine}
        build = self.guarded("kernel build", None, self.kernel_build)
        if build:
            out.update(build)
        kernel = report.get("kernel") or {}
        if kernel:
            out["kernel_pdb"] = f"{kernel.get('pdb')} {kernel.get('guid')}-{kernel.get('age')}"
            out["symbol_table"] = kernel.get("symbols")
        out["dump_type"] = h.dump_type
        name = DUMP_TYPE_NAMES.get(h.dump_type, f"type {h.dump_type}")
        if h.summary_signature:
            kind = {"SDMP": "kernel memory", "FDMP": "complete memory", "RDMP": "debugger"}.get(
                h.summary_signature, h.summary_signature)
            name = f"{name}, {kind} ({h.summary_signature})"
        out["dump_type_name"] = name
        covered = int(getattr(self.dump, "bitmap_pages", 0) or 0)
        present = int(self.dump.pages_present)
        out["pages_present"] = present
        if covered:
            out["pages_covered"] = covered
            out["page_coverage"] = f"{present} of {covered} physical pages ({100.0 * present / covered:.1f}%)"
        out["processors"] = h.number_processors
        # each time field on its own: an out-of-range one is a warning, not a lost header
        if h.system_up_time is not None:
            seconds = int(h.system_up_time) // 10_000_000
            if 0 <= seconds <= MAX_UPTIME_SECONDS:
                out["uptime_seconds"] = seconds
                out["uptime"] = str(timedelta(seconds=seconds))
            else:
                self.warn([f"header: SystemUpTime {int(h.system_up_time):#x} is out of range "
                           f"(more than {MAX_UPTIME_SECONDS // 86400 // 365} years, or negative); "
                           "uptime not reported"])
        if h.system_time:
            text = filetime_text(h.system_time)
            if text is not None:
                out["system_time"] = text
                out["system_time_filetime"] = h.system_time
            else:
                self.warn([f"header: SystemTime {int(h.system_time):#x} is not a date a FILETIME "
                           "can name (years 1601..9999); system time not reported"])
        code = h.bugcheck_code or 0
        params = [int(p or 0) for p in (list(h.bugcheck_parameters) + [0] * 4)[:4]]
        width = 16 if h.machine == "x64" else 8
        out["bugcheck"] = (f"0x{code:08X} (" + ", ".join(f"0x{p:0{width}x}" for p in params) + ")")
        out["bugcheck_name"] = BUGCHECK_NAMES.get(code, "")
        hit = self.hit
        if hit is not None:
            out["pool_hit_tag"] = (f"'{key_tag(hit.key)}' ({hit.key:#010x})" if hit.enabled
                                   else f"not set ({hit.key:#010x})")
            if hit.break_ is not None:
                out["pool_hit_tag_break"] = self.symbolizer.symbol(hit.break_.address)
        state = self.verifier
        if state is not None:
            out["verifier_level"] = state.level
            if state.enabled:
                flags = ", ".join(verifier_flag_names(state.level)) or "no flags"
                names = sorted({d["name"] for d in (report.get("verifier") or {}).get("drivers") or []})
                out["driver_verifier"] = (f"on, level {state.level:#x} ({flags}); verified drivers: "
                                          f"{', '.join(names) or 'none'}")
                out["verified_drivers"] = names
                out["verifier_flags"] = verifier_flag_names(state.level)
            elif state.known:
                out["driver_verifier"] = "off (MmVerifierData.Level is 0 and no driver is verified)"
            else:
                out["driver_verifier"] = "unknown (MmVerifierData is absent from the dump)"
        if self.trace is not None:
            out["verifier_trace_length"] = self.trace.length
        special = self.guarded("MmSpecialPoolTag", None, self.special_pool_tag)
        if special is not None:
            out["special_pool_tag"] = special
        usage = self.guarded("pool usage", None, lambda: self.pool_usage(report))
        if usage:
            out["pool_usage"] = usage
            for kind in ("paged", "nonpaged"):
                limit = usage.get(f"{kind}_limit")
                if f"{kind}_bytes" not in usage:
                    continue
                if limit:
                    out[f"{kind}_pool"] = (f"{usage[f'{kind}_bytes']:,} bytes of {limit:,} "
                                           f"({100.0 * usage[f'{kind}_bytes'] / limit:.1f}%)")
                else:
                    out[f"{kind}_pool"] = f"{usage[f'{kind}_bytes']:,} bytes (limit not known)"
        out["warnings"] = len(self.warnings)
        return out

    def kernel_build(self) -> dict:
        view, h = self.view, self.header
        out: dict[str, Any] = {}
        major = minor = None
        kuser = 0xFFFFF78000000000 if view.pointer_size == 8 else 0xFFDF0000
        if view.has_type("_KUSER_SHARED_DATA"):
            layout = view.layout("_KUSER_SHARED_DATA")
            try:
                if "NtMajorVersion" in layout.members:
                    major = view.read_uint(kuser + layout.members["NtMajorVersion"].offset,
                                          layout.members["NtMajorVersion"].size)
                if "NtMinorVersion" in layout.members:
                    minor = view.read_uint(kuser + layout.members["NtMinorVersion"].offset,
                                          layout.members["NtMinorVersion"].size)
            except MemoryAbsent:
                pass
        build = h.minor_version
        if view.has_symbol("NtBuildLab"):
            try:
                lab = read_c_string(view, view.symbol("NtBuildLab"), 0x100)
                if lab:
                    out["build_lab"] = lab
                    if build is None and lab.split(".", 1)[0].isdigit():
                        build = int(lab.split(".", 1)[0])
            except MemoryAbsent:
                pass
        if major is not None and minor is not None and build is not None:
            out["kernel_build"] = f"{major}.{minor}.{build}"
        elif build is not None:
            out["kernel_build"] = f"build {build}"
        if view.has_symbol("CmNtCSDVersion"):
            try:
                csd = read_global(view, "CmNtCSDVersion")
                if csd >> 8:
                    out["service_pack"] = csd >> 8
            except MemoryAbsent:
                pass
        if h.major_version is not None:
            out["checked_build"] = h.major_version == 0xC
        return out

    def special_pool_tag(self) -> str | None:
        if not self.view.has_symbol("MmSpecialPoolTag"):
            return None
        try:
            value = read_global(self.view, "MmSpecialPoolTag")
        except MemoryAbsent:
            return None
        if value in (0, 0xFFFFFFFF):
            return f"none ({value:#x})"
        if value == 0x2A:
            return "'*' (every tag)"
        return f"'{key_tag(value)}' ({value:#010x})"

    def pool_usage(self, report: dict) -> dict:
        out: dict[str, Any] = {}
        if self.totals is not None:
            # complete, non-negative rows only: a partial row lacks some table's counters and a
            # negative total is corrupt; either would skew the sum
            totals = self.totals
            partial = totals.partial if totals.partial is not None else \
                np.zeros(len(totals.keys), dtype=bool)
            for kind in ("paged", "nonpaged"):
                values = totals.values[f"{kind}_bytes"]
                sound = ~partial & (values >= 0)
                out[f"{kind}_bytes"] = int(values[sound].sum())
                left_out = int(np.count_nonzero(~sound & (values != 0)))
                if left_out:
                    out[f"{kind}_rows_left_out"] = left_out
                    self.warn([f"pool usage: {kind} bytes sum the complete tag rows of 0 or more "
                               f"only; {left_out} rows (partial, or below zero) were left out"])
        for name, symbol in POOL_LIMIT_SYMBOLS.items():
            if self.view.has_symbol(symbol):
                try:
                    value = read_global(self.view, symbol)
                except MemoryAbsent:
                    continue
                out[name] = value or None
        return out


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame in dumpscan's own readers/analyses (not the
    memory plumbing the exception came up through)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/dumpscan/" in f.filename.replace("\\", "/")
            and not f.filename.endswith(("view.py", "open.py"))]
    frame = (ours or frames)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def filetime_text(filetime: int) -> str | None:
    """ISO 8601 UTC text of a FILETIME; None when it is no date (negative, or past 9999)."""
    seconds, rest = divmod(int(filetime) - FILETIME_UNIX_EPOCH, 10_000_000)
    try:
        stamp = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds,
                                                                      microseconds=rest // 10)
    except (OverflowError, ValueError):
        return None
    if filetime < 0:
        return None
    return stamp.isoformat().replace("+00:00", "Z")


__all__ = ["analyze_path", "analyze_view", "analyze_plugin", "verifier_flag_names", "BUGCHECK_NAMES", "VERIFIER_FLAGS"]
