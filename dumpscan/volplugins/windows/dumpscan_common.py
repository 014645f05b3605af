"""What the dumpscan Volatility3 plugins share (no plugin classes here).

Each plugin is thin: :func:`view_requirements` (the kernel and its view's options,
``dumpscan.vol.grid``), then :func:`view_grid`: :func:`analyze` (``view_from_plugin`` ->
``dumpscan.analysis.engine.analyze_plugin``: the same report the ``dumpscan`` command
builds) and the view's table as a TreeGrid. Symbol tables for drivers (e.g. myfault.pdb)
are looked up in the directories Volatility was given with ``-s``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import List, NoReturn, Optional

from volatility3.framework import interfaces
from volatility3.framework.configuration import requirements

from dumpscan.analysis.batch import one_line_error
from dumpscan.dumpfile.errors import DumpError
from dumpscan.symbols.isf import SymbolTableError
from dumpscan.symbols.sources import is_zip_pack
from dumpscan.vol.errors import DumpOpenError, SymbolsMismatch, SymbolsMissing
from dumpscan.vol.plugin import PluginError, PluginSymbolError

vollog = logging.getLogger("dumpscan.plugins")

# What building the report may raise for a bad dump or missing symbols: one ERROR line
# (dumpscan's own families included: they are not OSError/ValueError subclasses).
ANALYSIS_ERRORS = (OSError, ValueError, LookupError, TypeError, RuntimeError,
                   SymbolTableError, DumpOpenError, DumpError)


def kernel_requirement() -> requirements.ModuleRequirement:
    return requirements.ModuleRequirement(name="kernel", description="Windows kernel",
                                          architectures=["Intel32", "Intel64"])


def view_requirements(view, *extra: str) -> List[interfaces.configuration.RequirementInterface]:
    """A view plugin's requirements: the kernel, then the options of ``view`` (a
    ``dumpscan.views`` View) and the ``extra`` options by name (e.g. ``pooltag``)."""
    from dumpscan.vol.grid import requirements_of

    return [kernel_requirement(), *requirements_of(view, *extra)]


def symbol_dirs() -> List[Path]:
    """The symbol locations Volatility searches (its -s directories first; each may hold
    zip packs such as windows.zip)."""
    import volatility3.symbols

    return [Path(p) for p in volatility3.symbols.__path__ if os.path.isdir(p) or is_zip_pack(Path(p))]


def fail(message: str, exc: Optional[BaseException] = None) -> NoReturn:
    """Log ``message`` as one ERROR line, then raise the PluginError that makes ``vol``
    exit with status 1 (a PluginSymbolError when ``exc`` is a symbol-table problem)."""
    vollog.error("%s", message)
    symbols = isinstance(exc, (SymbolTableError, SymbolsMissing, SymbolsMismatch))
    raise (PluginSymbolError if symbols else PluginError)(message)


def analyze(plugin: interfaces.plugins.PluginInterface, *, owners: bool = True,
            walk_pool: bool = False) -> dict:
    """dumpscan's report of the dump the plugin runs on (with the pool walk only when
    ``walk_pool``); its warnings go to the log (one WARNING line each). When it cannot be
    built: :func:`fail` (vol exits 1)."""
    from dumpscan.analysis.engine import analyze_plugin

    try:
        report = analyze_plugin(plugin.context, plugin.config["kernel"], symbol_dirs(),
                                plugin.config.get("pooltag", None), search_tag_owners=owners,
                                walk_pool=walk_pool)
    except ANALYSIS_ERRORS as exc:
        fail(f"dumpscan cannot analyze this dump: {one_line_error(exc)}", exc)
    for warning in report.get("warnings") or []:
        vollog.warning("%s", " ".join(str(warning).split()))
    return report


def view_grid(plugin: interfaces.plugins.PluginInterface, view, *, owners: bool = True):
    """The plugin's TreeGrid: ``view`` (a ``dumpscan.views`` View) of the dump's report
    under the plugin's options; a bad option value is one ERROR line and exit status 1."""
    from dumpscan.views import OptionError
    from dumpscan.vol.grid import query_of, treegrid

    try:
        query = query_of(view, plugin.config)
        if "threshold" in view.options:
            query.thresholds()
    except OptionError as exc:
        fail(str(exc))

    def table():
        return view.table(analyze(plugin, owners=owners, walk_pool=view.name == "blocks"), query)

    return treegrid(view, table)


__all__ = ["kernel_requirement", "view_requirements", "symbol_dirs", "fail", "analyze", "view_grid", "vollog"]
