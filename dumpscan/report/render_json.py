"""Any view as JSON (``--format json --section VIEW``): a list of row objects keyed by
the flat columns' names, native values (ints, booleans, lists; null = not applicable);
with labels (several dumps), one ``{"dump": LABEL, "rows": [...]}`` object per dump.
Child rows below the view's ``flat_depth`` are kept under ``children``, as Volatility's
JSON renderer keeps them under ``__children``."""
from __future__ import annotations

import json

from ..views.format import formatter
from ..views.model import Row, Table


def _row(table: Table, cells: list, row: Row, depth: int) -> dict:
    out = {name: convert(row.values.get(name)) for name, convert in cells}
    if row.children and depth < table.view.flat_depth:
        out["children"] = [_row(table, cells, child, depth + 1) for child in row.children]
    return out


def table_json(table: Table) -> list[dict]:
    """The rows of ``table`` down to the view's ``flat_depth`` as JSON-ready dicts."""
    cells = [(c.name, formatter(c, "json", table.arch)) for c in table.view.flat_columns()]
    return [_row(table, cells, row, 0) for row in table.rows]


class JsonFrontend:
    """Any view as one JSON document (compact, one line)."""

    def __init__(self) -> None:
        self._parts: list[tuple[str | None, list[dict]]] = []

    def add(self, table: Table, label: str | None = None) -> None:
        self._parts.append((label, table_json(table)))

    def finish(self) -> str:
        if len(self._parts) == 1 and self._parts[0][0] is None:
            document = self._parts[0][1]
        else:
            document = [{"dump": label, "rows": rows} for label, rows in self._parts]
        return json.dumps(document, separators=(",", ":")) + "\n"
