"""CSV renderings for scripts and spreadsheets (the command line's ``--csv``).

Numbers are plain decimal, addresses ``0x`` + lowercase hex without a backtick (so a
spreadsheet or ``int(x, 16)`` reads them); tags are the 4-character strings with
non-printable characters shown as '.'. Every function returns the CSV text, header
row first, ``\\n`` line ends.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

from ..analysis.leaks import call_sites, display_tag, tag_totals


def _csv(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue()


def _hex(value) -> str:
    return f"{value:#x}" if isinstance(value, int) else ""


def tags_csv(report: Mapping, rows: Iterable[Mapping] | None = None) -> str:
    """Per-tag totals (``!poolused`` columns plus allocs/frees); ``rows`` defaults to
    :func:`dumpscan.analysis.leaks.tag_totals` (pass filtered rows to print fewer)."""
    rows = tag_totals(report) if rows is None else rows
    return _csv(["tag", "key", "nonpaged_allocs", "nonpaged_bytes", "paged_allocs", "paged_bytes",
                  "total_allocs", "total_bytes", "allocs", "frees", "drivers"],
                 ([display_tag(r["tag"]), _hex(r["key"]), r["nonpaged_outstanding"],
                   r["nonpaged_bytes"], r["paged_outstanding"], r["paged_bytes"], r["outstanding"],
                   r["bytes"], r["allocs"], r["frees"], ";".join(r.get("drivers") or [])]
                  for r in rows))


def allocations_csv(report: Mapping) -> str:
    """Every outstanding verifier-tracked allocation, one row each."""
    verifier = report.get("verifier") if isinstance(report.get("verifier"), dict) else {}
    rows = []
    for driver in verifier.get("drivers") or []:
        for alloc in driver.get("allocations") or []:
            rows.append([driver.get("name"), "yes" if driver.get("loaded") else "no",
                         _hex(alloc.get("address")), alloc.get("length"),
                         display_tag(alloc.get("tag", "")), _hex(alloc.get("key")),
                         _hex(alloc.get("caller")), alloc.get("caller_symbol")])
    return _csv(["driver", "loaded", "address", "length", "tag", "key", "caller", "caller_symbol"],
                rows)


def call_sites_csv(report: Mapping, sites: Iterable[Mapping] | None = None) -> str:
    sites = call_sites(report, top=None) if sites is None else sites
    return _csv(["driver", "caller", "symbol", "count", "bytes", "tags", "traced"],
                ([s.get("driver"), _hex(s.get("caller")), s.get("symbol"), s.get("count"),
                  s.get("bytes"), ";".join(display_tag(t) for t in s.get("tags") or []),
                  s.get("traced")] for s in sites))


def suspects_csv(suspects: Iterable[Mapping]) -> str:
    return _csv(["rank", "kind", "name", "severity", "bytes", "count", "rules", "drivers", "evidence"],
                ([i, s.get("kind"), display_tag(s.get("name", "")) if s.get("kind") == "tag"
                  else s.get("name"), s.get("severity"), s.get("bytes"), s.get("count"),
                  ";".join(s.get("rules") or []), ";".join(s.get("drivers") or []),
                  " | ".join(s.get("evidence") or [])]
                 for i, s in enumerate(suspects, 1)))


def diff_csv(diff: Mapping) -> str:
    """The per-tag rows of a :func:`dumpscan.analysis.diff.diff_reports` result, then its
    ``partial`` tags (status ``partial``; empty cells where a report's totals are partial,
    no deltas)."""
    return _csv(["tag", "status", "outstanding_before", "outstanding_after", "outstanding_delta",
                 "bytes_before", "bytes_after", "bytes_delta", "bytes_per_hour"],
                ([display_tag(t["tag"]), t.get("status"), t.get("outstanding_before"),
                  t.get("outstanding_after"), t.get("outstanding_delta"), t.get("bytes_before"),
                  t.get("bytes_after"), t.get("bytes_delta"),
                  "" if t.get("bytes_per_hour") is None else f"{t['bytes_per_hour']:.1f}"]
                 for t in [*(diff.get("tags") or []), *(diff.get("partial") or [])]))


def batch_csv(rows: Iterable) -> str:
    """Rows of :func:`dumpscan.analysis.batch.scan_archive`."""
    from ..analysis.batch import BatchRow

    columns = BatchRow.columns()
    dicts = [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in rows]
    return _csv(columns, ([d.get(c) for c in columns] for d in dicts))


__all__ = ["tags_csv", "allocations_csv", "call_sites_csv", "suspects_csv",
           "diff_csv", "batch_csv"]
