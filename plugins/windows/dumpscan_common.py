"""What the dumpscan Volatility3 plugins share (no plugin classes here).

Each plugin is thin: its requirements, then :func:`analyze` (``view_from_plugin`` ->
``dumpscan.analysis.engine.analyze_plugin``: the same report the ``dumpscan`` command
builds), then rows for a TreeGrid. Symbol tables for drivers (e.g. myfault.pdb) are
looked up in the directories Volatility was given with ``-s``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, List, Optional

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from dumpscan.analysis.batch import one_line_error
from dumpscan.dumpfile.errors import DumpError
from dumpscan.report.select import SORTS
from dumpscan.symbols.isf import SymbolTableError
from dumpscan.vol.errors import DumpOpenError

vollog = logging.getLogger("dumpscan.plugins")

NA = renderers.NotApplicableValue()
UNREADABLE = renderers.UnreadableValue()

# What building the report may raise for a bad dump or missing symbols: one ERROR line
# (dumpscan's own families included: they are not OSError/ValueError subclasses).
ANALYSIS_ERRORS = (OSError, ValueError, LookupError, TypeError, RuntimeError,
                   SymbolTableError, DumpOpenError, DumpError)


def kernel_requirement() -> requirements.ModuleRequirement:
    return requirements.ModuleRequirement(name="kernel", description="Windows kernel",
                                          architectures=["Intel32", "Intel64"])


def pooltag_requirement() -> requirements.StringRequirement:
    return requirements.StringRequirement(
        name="pooltag", optional=True, default=None,
        description="A pooltag.txt file ('Tag - driver.sys - description' lines) naming tag owners")


def filter_requirements(*, sorts: Iterable[str] = SORTS, default_sort: str = "total",
                        top: Optional[int] = None, sort: bool = True,
                        drivers: bool = True) -> List[interfaces.configuration.RequirementInterface]:
    """--tags, --driver, --min-bytes, --sort, --top (the dumpscan command's options)."""
    out: List[interfaces.configuration.RequirementInterface] = [
        requirements.ListRequirement(
            name="tags", element_type=str, optional=True, default=None,
            description="Pool tags to show, !poolused-style wildcards (Lea* ?eak); commas also separate"),
    ]
    if drivers:
        out.append(requirements.ListRequirement(
            name="driver", element_type=str, optional=True, default=None,
            description="Drivers to show (myfault, myfault.sys, my*): their tags, allocations, call sites"))
    out.append(requirements.IntRequirement(
        name="min-bytes", optional=True, default=0,
        description="Hide rows with fewer bytes"))
    if sort:
        out.append(requirements.ChoiceRequirement(
            name="sort", choices=list(sorts), optional=True, default=default_sort,
            description="Order: nonpaged/paged/total bytes, allocs (outstanding allocations), tag (name)"
                        + (", severity (suspects first)" if "severity" in sorts else "")))
    out.append(requirements.IntRequirement(
        name="top", optional=True, default=top,
        description=f"Show only the first N rows (default: {top if top else 'all'})"))
    return out


def patterns(value) -> Optional[List[str]]:
    """A ListRequirement value (possibly comma-separated items) as a list, or None."""
    if not value:
        return None
    if isinstance(value, str):
        value = [value]
    out = [p for item in value for p in str(item).split(",") if p]
    return out or None


def option(plugin: interfaces.plugins.PluginInterface, name: str, default=None):
    value = plugin.config.get(name, None)
    return default if value is None else value


def symbol_dirs() -> List[Path]:
    """The symbol directories Volatility searches (its -s directories first)."""
    import volatility3.symbols

    return [Path(p) for p in volatility3.symbols.__path__ if os.path.isdir(p)]


def analyze(plugin: interfaces.plugins.PluginInterface, *, owners: bool = True) -> Optional[dict]:
    """dumpscan's report of the dump the plugin runs on; its warnings go to the log
    (one WARNING line each). When it cannot be built: one ERROR line, and ``vol`` exits 1."""
    from dumpscan.analysis.engine import analyze_plugin

    try:
        report = analyze_plugin(plugin.context, plugin.config["kernel"], symbol_dirs(),
                                option(plugin, "pooltag"), search_tag_owners=owners)
    except ANALYSIS_ERRORS as exc:
        vollog.error("dumpscan cannot analyze this dump: %s", one_line_error(exc))
        # an empty table after an error would read as "nothing found": exit non-zero
        raise SystemExit(1) from None
    for warning in report.get("warnings") or []:
        vollog.warning("%s", " ".join(str(warning).split()))
    return report


def hexa(value):
    """format_hints.Hex of an int, else NotApplicable."""
    return format_hints.Hex(value) if isinstance(value, int) and not isinstance(value, bool) else NA


def text(value):
    return value if isinstance(value, str) and value != "" else NA


__all__ = ["NA", "kernel_requirement", "pooltag_requirement", "filter_requirements", "patterns",
           "option", "symbol_dirs", "analyze", "hexa", "text", "vollog"]
