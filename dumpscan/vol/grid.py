"""Views as Volatility3 TreeGrids, options as Volatility requirements: the Volatility
front end of ``dumpscan.views`` (the plugins in plugins/windows/ are a few lines each).

Column kinds map to TreeGrid types: int/bytes -> int, hex/address -> format_hints.Hex,
str/tag/list -> str, bool -> bool, float -> float; a missing value is
NotApplicableValue. Child rows keep their depth, as Volatility's renderers expect.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from ..views.format import display_tag
from ..views.model import Column, Table, View, tree_rows
from ..views.options import OPTIONS, Option, Query

vollog = logging.getLogger("dumpscan.plugins")

NA = renderers.NotApplicableValue()
KIND_TYPES = {"int": int, "bytes": int, "hex": format_hints.Hex, "address": format_hints.Hex,
              "str": str, "tag": str, "list": str, "bool": bool, "float": float}


def requirement(option: Option) -> interfaces.configuration.RequirementInterface:
    """The Volatility requirement of one option (same name without dashes, help, default)."""
    common = dict(name=option.vol_name, description=option.help, optional=True)
    if option.kind in ("patterns", "pairs"):
        return requirements.ListRequirement(element_type=str, default=None, **common)
    if option.kind == "int":
        return requirements.IntRequirement(default=option.default, **common)
    if option.kind == "choice":
        return requirements.ChoiceRequirement(choices=list(option.choices), default=option.default, **common)
    if option.kind == "flag":
        return requirements.BooleanRequirement(default=bool(option.default), **common)
    return requirements.StringRequirement(default=option.default, **common)  # address, path


def requirements_of(view: View, *extra: str) -> list[interfaces.configuration.RequirementInterface]:
    """The requirements of a view's options (those offered to Volatility), then ``extra``
    options by name (e.g. ``pooltag``)."""
    names = list(view.options) + [n for n in extra if n not in view.options]
    return [requirement(OPTIONS[n]) for n in names if "vol" in OPTIONS[n].frontends]


def config_values(config: Mapping, names: Iterable[str]) -> dict[str, Any]:
    """The raw values of options from a plugin's config."""
    return {name: config.get(OPTIONS[name].vol_name, None) for name in names}


def query_of(view: View, config: Mapping) -> Query:
    """The view's query from a plugin's config; raises OptionError (one line)."""
    names = [n for n in view.options if "vol" in OPTIONS[n].frontends]
    return Query.from_values(config_values(config, names), names)


def columns_of(view: View) -> list[tuple[str, type]]:
    return [(c.heading, KIND_TYPES[c.kind]) for c in view.tree_columns()]


def grid_value(column: Column, value: Any) -> Any:
    if value is None or value == "" or value == []:
        return NA
    if column.kind in ("hex", "address"):
        return format_hints.Hex(value)
    if column.kind == "tag":
        return display_tag(value)
    if column.kind == "list":
        return column.joiner.join(str(v) for v in value)
    if column.kind == "bool":
        return bool(value)
    return value


def grid_rows(table: Table):
    """(depth, values) for every row of ``table``, parents first; the table's notes go to
    the log as warnings."""
    for note in table.notes:
        vollog.warning("%s", note)
    columns = table.view.tree_columns()
    for depth, row in tree_rows(table.rows):
        yield depth, tuple(grid_value(c, row.values.get(c.name)) for c in columns)


def treegrid(view: View, make_table: Callable[[], Table | None]) -> renderers.TreeGrid:
    """A TreeGrid of ``view`` whose rows come from ``make_table()`` when Volatility asks
    for them (None: no rows; whoever returned None has logged why)."""
    def generate():
        table = make_table()
        if table is not None:
            yield from grid_rows(table)

    return renderers.TreeGrid(columns_of(view), generate())


__all__ = ["NA", "KIND_TYPES", "requirement", "requirements_of", "config_values", "query_of",
           "columns_of", "grid_value", "grid_rows", "treegrid"]
