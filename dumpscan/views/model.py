"""The table model: typed columns, rows (a tree), the view that makes them, the table a
view returns, and the interface every front end implements.

Nothing here knows a report's layout or an output format: ``views/<group>.py`` define
views (report dict + :class:`~dumpscan.views.options.Query` -> :class:`Table`), and the
front ends turn tables into text, CSV, JSON, a Volatility TreeGrid (or HTML, SQLite, ...)
through :func:`dumpscan.views.format.cell` and :func:`flat_rows` / :func:`tree_rows`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Protocol

# Column kinds: what a value is, so that every front end formats it the same way.
#   int      a count or index (decimal everywhere)
#   bytes    a byte count (decimal; text may add the human size)
#   hex      a number read as hex (a key, a pool type, a length as !verifier prints it)
#   address  a virtual address (text: pointer width as the debugger prints it; CSV/JSON/vol: 0x..)
#   str      text;  tag: a pool tag (non-printable characters shown as '.')
#   bool     yes/no (text), True/False (CSV, vol), true/false (JSON)
#   float    a rate (one decimal)
#   list     a list of str, joined with the column's ``joiner`` where a cell must be one string
KINDS = ("int", "bytes", "hex", "address", "str", "tag", "bool", "float", "list")


@dataclass(frozen=True)
class Column:
    """One named, typed column of a view.

    ``name`` is the key in :attr:`Row.values`, the CSV/JSON field name and (CamelCased, or
    ``title``) the heading in text and the Volatility column name. ``flat``/``tree``: whether
    the column appears in flat outputs (CSV, JSON, HTML/SQLite tables: the rows at the
    view's ``flat_depth``) and in tree outputs (TreeGrid, text: every row with its children).
    """

    name: str
    kind: str
    help: str
    title: str | None = None
    joiner: str = ", "
    flat: bool = True
    tree: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: unknown kind {self.kind!r}")

    @property
    def heading(self) -> str:
        """The display name: ``title`` or the name in CamelCase (``nonpaged_bytes`` ->
        ``NonpagedBytes`` unless a title says ``NonPagedBytes``)."""
        return self.title or "".join(part.capitalize() for part in self.name.split("_"))


@dataclass(slots=True)
class Row:
    """One row: column name -> value (missing or None = not applicable), and its children
    (same columns: the allocations of a driver, the frames of a trace record, ...)."""

    values: dict[str, Any]
    children: Sequence["Row"] = ()

    @classmethod
    def of(cls, columns: Iterable[Column], item: Mapping[str, Any]) -> "Row":
        """A row of ``columns``, each value read from ``item`` under the column's name."""
        return cls({c.name: item.get(c.name) for c in columns})

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value


@dataclass
class Table:
    """What a view gives for one report: its rows, and the facts a layout needs besides
    them (``context``: e.g. ``arch``, the verifier's flags and statistics); ``notes`` are
    plain-language remarks about the selection (e.g. "Driver Verifier is not enabled")
    that a front end shows as it shows messages (text: a line; Volatility: a log line)."""

    view: "View"
    rows: list[Row]
    context: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def arch(self) -> str:
        return self.context.get("arch", "x64")


@dataclass(frozen=True)
class View:
    """A table defined once: its columns, the options (filters) it accepts, and the
    function that builds it from a ``dumpscan.report/1`` dict and a query.

    ``flat_depth``: which rows flat outputs list (0: the top rows; 1: their children,
    e.g. the verifier's allocations rather than its drivers). ``layout``: the name of a
    text layout that shows this view the way the debugger does (``!poolused``); front ends
    without that layout use their generic table.
    """

    name: str
    title: str
    help: str
    columns: tuple[Column, ...]
    options: tuple[str, ...]
    build: Callable[[Mapping, Any], Table]
    flat_depth: int = 0
    layout: str | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"view {self.name}: duplicate column names")

    def flat_columns(self) -> list[Column]:
        return [c for c in self.columns if c.flat]

    def tree_columns(self) -> list[Column]:
        return [c for c in self.columns if c.tree]

    def table(self, report: Mapping, query: Any = None) -> Table:
        """The view of ``report`` under ``query`` (a :class:`~dumpscan.views.options.Query`;
        None: the defaults); its context says the report's ``arch`` (x86/x64)."""
        from ..analysis.leaks import machine
        from .options import Query

        table = self.build(report, query if query is not None else Query())
        table.context.setdefault("arch", machine(report))
        return table


class LazyRows(Sequence):
    """Child rows made on first use: a million big-pool blocks cost nothing until a front
    end lists them."""

    def __init__(self, make: Callable[[], list[Row]]) -> None:
        self._make: Callable[[], list[Row]] | None = make
        self._rows: list[Row] = []

    def _built(self) -> list[Row]:
        if self._make is not None:
            self._rows, self._make = self._make(), None
        return self._rows

    def __getitem__(self, index):
        return self._built()[index]

    def __iter__(self) -> Iterator[Row]:  # Sequence's default indexes row by row: slow for a million
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


def tree_rows(rows: Sequence[Row], depth: int = 0) -> Iterator[tuple[int, Row]]:
    """Every row with its depth, parents before their children (TreeGrid order)."""
    for row in rows:
        yield depth, row
        if row.children:
            yield from tree_rows(row.children, depth + 1)


def flat_rows(table: Table) -> Iterator[Row]:
    """The rows flat outputs list: those at the view's ``flat_depth``, in tree order
    (each level's children in their parents' order; no walk through deeper rows)."""
    rows: Iterable[Row] = table.rows
    for _ in range(table.view.flat_depth):
        rows = chain.from_iterable(row.children for row in rows)
    return iter(rows)


class Frontend(Protocol):
    """An output format. A front end is given the tables of one view, one per dump (with
    the dump's label when there are several), and returns the whole output at the end;
    it formats each cell with :func:`dumpscan.views.format.cell` and picks rows with
    :func:`flat_rows` or :func:`tree_rows`. See dumpscan/report/render_csv.py
    (``CsvFrontend``) for a complete one in a few lines."""

    def add(self, table: Table, label: str | None = None) -> None: ...

    def finish(self) -> str: ...
