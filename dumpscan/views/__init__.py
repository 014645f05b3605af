"""Views: every table dumpscan shows, defined once, for every front end.

Data flows one way: a ``dumpscan.report/1`` dict (``dumpscan.analysis``) -> a view ->
a front end. A view selects and shapes rows; a front end only lays them out.

The model (``dumpscan.views.model``)
    :class:`Column` (name, kind: int/bytes/hex/address/str/tag/bool/float/list, help,
    display title, whether flat and/or tree outputs show it); :class:`Row` (values by
    column name, child rows); :class:`View` (name, title, help, columns, the options it
    accepts, ``build(report, query) -> Table``, ``flat_depth``, optional text ``layout``);
    :class:`Table` (the rows of one report, plus ``context`` facts a layout needs and
    ``notes``); :func:`flat_rows` / :func:`tree_rows`; the :class:`Frontend` protocol.

Options (``dumpscan.views.options``)
    :data:`OPTIONS`: each option once (name, kind, default, help, metavar, front ends);
    :class:`Query`: the parsed filter values (``Query.from_values(raw)`` validates what
    click or Volatility collected, raising a one-line :class:`OptionError`).

Cells (``dumpscan.views.format``)
    ``cell(column, value, style, arch)``: the one formatter for text, CSV and JSON.

The views (:data:`VIEWS`, by name; the command's ``--section`` names)
    ``suspects``, ``pooltags`` (!poolused), ``verifier`` (!verifier 3), ``drivers``,
    ``verifierstats``, ``history`` (!verifier 80), ``callsites``, ``bigpool``, ``hittag``,
    ``blocks`` (every pool block: !poolfind, and !pool ADDR with ``--address``).

Rendering a view::

    from dumpscan.views import VIEWS, Query
    table = VIEWS["pooltags"].table(report, Query.from_values({"tag": ["Lea*"], "top": 5}))
    for row in flat_rows(table):           # or tree_rows(table.rows) for parents + children
        cells = [cell(c, row.values.get(c.name), "csv", table.arch) for c in table.view.flat_columns()]

Front ends: dumpscan/report/render_text.py (text: WinDbg layouts by ``View.layout``,
rich tables otherwise), dumpscan/report/render_csv.py (``CsvFrontend``),
dumpscan/report/render_json.py (``JsonFrontend``), dumpscan/vol/grid.py (Volatility
TreeGrid and requirements), dumpscan/cli.py (click options from :data:`OPTIONS`).
A new view: a ``View`` in one module here, added to :data:`VIEWS`; every front end
shows it. A new front end: one adapter implementing :class:`Frontend`.
"""
from __future__ import annotations

from .blocks import BLOCKS
from .model import Column, Frontend, LazyRows, Row, Table, View, flat_rows, tree_rows
from .options import FILTERS, OPTIONS, Option, OptionError, Query
from .pool import BIGPOOL, POOLTAGS
from .suspects import CALLSITES, HITTAG, SUSPECTS
from .verifier import DRIVERS, HISTORY, VERIFIER, VERIFIERSTATS

VIEWS: dict[str, View] = {view.name: view for view in (
    SUSPECTS, POOLTAGS, VERIFIER, DRIVERS, VERIFIERSTATS, HISTORY, CALLSITES, BIGPOOL, HITTAG,
    BLOCKS)}

__all__ = ["Column", "Frontend", "LazyRows", "Row", "Table", "View", "flat_rows", "tree_rows",
           "FILTERS", "OPTIONS", "Option", "OptionError", "Query", "VIEWS"]
