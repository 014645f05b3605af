"""A dump's report as index rows (the tables of ``index.TABLES``).

Values are the report's (``dumpscan analyze --format json``): tag counters and names as
in ``tags``/``tags_partial``, verified drivers as in ``verifier.drivers``, call sites and
suspects as ``leaks.call_sites`` and ``leaks.suspects`` (ranked; the report keeps the first
``top_n`` call sites: every outstanding allocation, with its caller, stays in the stored report). Addresses are 64-bit unsigned and SQLite
integers are signed, so addresses are stored as '0x...' text.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

from ..analysis.leaks import kernel_build, owner_names

REPORT_ENCODING = "zlib+json"  # zlib (level 1) of the compact JSON document
REPORT_COMPRESSION_LEVEL = 1


def hex_or_none(value) -> str | None:
    return f"{value:#x}" if isinstance(value, int) else None


def encode_report(report: Mapping) -> bytes:
    """zlib of exactly ``json.dumps(report, separators=(",", ":"))`` (the compact JSON of
    ``analyze --format json``). The document is encoded in pieces and each piece compressed
    on a second thread while the next is encoded (zlib releases the GIL), so that storing a
    100 MB report costs little more than encoding it."""
    compressor = zlib.compressobj(REPORT_COMPRESSION_LEVEL)
    parts: list[bytes] = []
    with ThreadPoolExecutor(max_workers=1) as thread:
        pending = None
        for piece in _json_pieces(report, 0):
            data = piece.encode()
            if pending is not None:
                parts.append(pending.result())
            pending = thread.submit(compressor.compress, data)
        if pending is not None:
            parts.append(pending.result())
    parts.append(compressor.flush())
    return b"".join(parts)


JSON_BATCH = 20_000  # list elements encoded at a time
JSON_DEPTH = 3       # levels of dicts split into their members


def _json_pieces(value, depth: int) -> Iterator[str]:
    """``json.dumps(value, separators=(",", ":"))`` in consecutive pieces."""
    if isinstance(value, dict) and depth < JSON_DEPTH and value and all(isinstance(k, str) for k in value):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + json.dumps(key) + ":"
            yield from _json_pieces(item, depth + 1)
        yield "}"
    elif isinstance(value, list) and len(value) > JSON_BATCH:
        yield "["
        for start in range(0, len(value), JSON_BATCH):
            yield ("," if start else "") + json.dumps(value[start:start + JSON_BATCH], separators=(",", ":"))[1:-1]
        yield "]"
    else:
        yield json.dumps(value, separators=(",", ":"))


def decode_report(blob: bytes) -> dict:
    return json.loads(zlib.decompress(blob))


def report_fields(report: Mapping) -> dict:
    """The ``dumps`` columns a report gives."""
    dump = report.get("dump") or {}
    kernel = report.get("kernel") or {}
    header = report.get("header") or {}
    leaks = report.get("leaks") or {}
    return {
        "arch": dump.get("machine"), "kernel_build": kernel_build(report),
        "dump_type": dump.get("dump_type"), "bugcheck_code": (dump.get("bugcheck") or {}).get("code"),
        "crash_time": header.get("system_time"), "uptime_seconds": header.get("uptime_seconds"),
        "pdb_name": kernel.get("pdb"), "pdb_guid": kernel.get("guid"), "pdb_age": kernel.get("age"),
        "suspects": len(leaks.get("suspects") or []), "exit_status": leaks.get("exit_status"),
    }


def tag_rows(dump_id: int, report: Mapping) -> list[dict]:
    rows = []
    for partial, source in ((0, report.get("tags") or []), (1, report.get("tags_partial") or [])):
        for tag in source:
            rows.append({"dump_id": dump_id, "key": tag.get("key"), "tag": tag.get("tag"),
                         **{name: tag.get(name) for name in (
                             "paged_allocs", "paged_frees", "paged_bytes", "nonpaged_allocs",
                             "nonpaged_frees", "nonpaged_bytes", "paged_outstanding",
                             "nonpaged_outstanding")},
                         "drivers": ";".join(owner_names(tag.get("drivers"))), "partial": partial})
    return rows


def driver_rows(dump_id: int, report: Mapping) -> list[dict]:
    verifier = report.get("verifier") if isinstance(report.get("verifier"), dict) else {}
    rows = []
    for driver in verifier.get("drivers") or []:
        counters = driver.get("counters")
        rows.append({"dump_id": dump_id, "name": driver.get("name"),
                     "loaded": int(bool(driver.get("loaded"))),
                     "outstanding": driver.get("outstanding"),
                     "outstanding_bytes": driver.get("outstanding_bytes"),
                     "found_by": driver.get("found_by"), "tracker_pages": driver.get("tracker_pages"),
                     "free_slots": driver.get("free_slots"), "dll_base": hex_or_none(driver.get("dll_base")),
                     "image_size": driver.get("image_size"),
                     "counters": json.dumps(counters, sort_keys=True) if counters is not None else None})
    return rows


def callsite_rows(dump_id: int, report: Mapping) -> list[dict]:
    return [{"dump_id": dump_id, "rank": rank, "caller": hex_or_none(site.get("caller")),
             "symbol": site.get("symbol"), "driver": site.get("driver"), "count": site.get("count"),
             "bytes": site.get("bytes"), "tags": ";".join(site.get("tags") or []),
             "traced": site.get("traced")}
            for rank, site in enumerate((report.get("leaks") or {}).get("call_sites") or [])]


def suspect_driver(suspect: Mapping) -> str | None:
    """The driver a suspect points at: itself for a driver suspect, else its call site's
    driver, else its tag's first owner."""
    if suspect.get("kind") == "driver":
        return suspect.get("name")
    if suspect.get("driver"):
        return suspect["driver"]
    owners = owner_names(suspect.get("drivers"))
    return owners[0] if owners else None


def suspect_rows(dump_id: int, report: Mapping) -> list[dict]:
    suspects = (report.get("leaks") or {}).get("suspects") or []
    return [{"dump_id": dump_id, "rank": rank, "kind": s.get("kind"), "name": s.get("name"),
             "severity": s.get("severity"), "bytes": s.get("bytes"), "count": s.get("count"),
             "rules": ";".join(s.get("rules") or []), "evidence": json.dumps(s.get("evidence") or []),
             "key": s.get("key"), "driver": suspect_driver(s), "caller": hex_or_none(s.get("caller")),
             "caller_symbol": s.get("caller_symbol")}
            for rank, s in enumerate(suspects)]
