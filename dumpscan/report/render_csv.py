"""CSV for scripts and spreadsheets (``--format csv``): any view through
:class:`CsvFrontend`, and the diff, series and batch results.

Numbers are plain decimal, addresses ``0x`` + lowercase hex without a backtick (so a
spreadsheet or ``int(x, 16)`` reads them), booleans True/False; tags are the
4-character strings with non-printable characters shown as '.'. Header row first,
``\\n`` line ends.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

from ..analysis.leaks import display_tag
from ..views.format import formatter
from ..views.model import Table, flat_rows


def _csv(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue()


class CsvFrontend:
    """Any view as CSV: the flat columns, the rows at the view's ``flat_depth``; with a
    label (several dumps), a ``dump`` column first. One header for all the tables."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._header = False

    def add(self, table: Table, label: str | None = None) -> None:
        columns = table.view.flat_columns()
        if not self._header:
            self._writer.writerow((["dump"] if label is not None else []) + [c.name for c in columns])
            self._header = True
        lead = [label] if label is not None else []
        cells = [(c.name, formatter(c, "csv", table.arch)) for c in columns]
        self._writer.writerows(lead + [convert(row.values.get(name)) for name, convert in cells]
                               for row in flat_rows(table))

    def finish(self) -> str:
        return self._buffer.getvalue()


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


def series_csv(result: Mapping) -> str:
    """A :func:`dumpscan.analysis.diff.series` result: one row per growing tag, then its
    bytes and outstanding allocations at each point."""
    points = len(result.get("points") or [])
    return _csv(["tag", "growth_bytes", "growth_count", "bytes_per_hour", "strict"]
                + [f"bytes_t{i}" for i in range(points)] + [f"outstanding_t{i}" for i in range(points)],
                ([display_tag(t["tag"]), t["growth_bytes"], t["growth_count"],
                  "" if t.get("bytes_per_hour") is None else f"{t['bytes_per_hour']:.1f}",
                  str(bool(t.get("strict"))), *t["bytes"], *t["outstanding"]]
                 for t in result.get("tags") or []))


def batch_csv(rows: Iterable) -> str:
    """Rows of :func:`dumpscan.analysis.batch.scan_archive`."""
    from ..analysis.batch import BatchRow

    columns = BatchRow.columns()
    dicts = [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in rows]
    return _csv(columns, ([d.get(c) for c in columns] for d in dicts))


__all__ = ["CsvFrontend", "diff_csv", "series_csv", "batch_csv"]
