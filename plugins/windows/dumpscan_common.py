"""What the dumpscan Volatility3 plugins share (no plugin classes here).

Each plugin is thin: the requirements of its view's options (``dumpscan.vol.grid``), then
:func:`view_grid`: :func:`analyze` (``view_from_plugin`` ->
``dumpscan.analysis.engine.analyze_plugin``: the same report the ``dumpscan`` command
builds) and the view's table as a TreeGrid. Symbol tables for drivers (e.g. myfault.pdb)
are looked up in the directories Volatility was given with ``-s``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import List, Optional

from volatility3.framework import interfaces
from volatility3.framework.configuration import requirements

from dumpscan.analysis.batch import one_line_error
from dumpscan.dumpfile.errors import DumpError
from dumpscan.symbols.isf import SymbolTableError
from dumpscan.vol.errors import DumpOpenError

vollog = logging.getLogger("dumpscan.plugins")

# What building the report may raise for a bad dump or missing symbols: one ERROR line
# (dumpscan's own families included: they are not OSError/ValueError subclasses).
ANALYSIS_ERRORS = (OSError, ValueError, LookupError, TypeError, RuntimeError,
                   SymbolTableError, DumpOpenError, DumpError)


def kernel_requirement() -> requirements.ModuleRequirement:
    return requirements.ModuleRequirement(name="kernel", description="Windows kernel",
                                          architectures=["Intel32", "Intel64"])


def symbol_dirs() -> List[Path]:
    """The symbol directories Volatility searches (its -s directories first)."""
    import volatility3.symbols

    return [Path(p) for p in volatility3.symbols.__path__ if os.path.isdir(p)]


def analyze(plugin: interfaces.plugins.PluginInterface, *, owners: bool = True,
            walk_pool: bool = False) -> Optional[dict]:
    """dumpscan's report of the dump the plugin runs on (with the pool walk only when
    ``walk_pool``); its warnings go to the log (one WARNING line each). None (after one
    ERROR line) when it cannot be built."""
    from dumpscan.analysis.engine import analyze_plugin

    try:
        report = analyze_plugin(plugin.context, plugin.config["kernel"], symbol_dirs(),
                                plugin.config.get("pooltag", None), search_tag_owners=owners,
                                walk_pool=walk_pool)
    except ANALYSIS_ERRORS as exc:
        vollog.error("dumpscan cannot analyze this dump: %s", one_line_error(exc))
        return None
    for warning in report.get("warnings") or []:
        vollog.warning("%s", " ".join(str(warning).split()))
    return report


def view_grid(plugin: interfaces.plugins.PluginInterface, view, *, owners: bool = True):
    """The plugin's TreeGrid: ``view`` (a ``dumpscan.views`` View) of the dump's report
    under the plugin's options; a bad option value is one ERROR line and no rows."""
    from dumpscan.views import OptionError
    from dumpscan.vol.grid import query_of, treegrid

    try:
        query = query_of(view, plugin.config)
        if "threshold" in view.options:
            query.thresholds()
    except OptionError as exc:
        vollog.error("%s", exc)
        return treegrid(view, lambda: None)

    def table():
        report = analyze(plugin, owners=owners, walk_pool=view.name == "blocks")
        return None if report is None else view.table(report, query)

    return treegrid(view, table)


__all__ = ["kernel_requirement", "symbol_dirs", "analyze", "view_grid", "vollog"]
