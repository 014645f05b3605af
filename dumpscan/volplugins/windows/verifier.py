"""windows.verifier: Driver Verifier pool tracking, as !verifier 3 shows it.

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.verifier            # drivers and allocations
    vol ... windows.verifier --summary                                  # MmVerifierData + counters
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from dumpscan.analysis.engine import verifier_flag_names
from dumpscan.analysis.leaks import display_tag
from dumpscan.report.select import select_verifier

from . import dumpscan_common as common


class Verifier(interfaces.plugins.PluginInterface):
    """Driver Verifier (!verifier 3): verified drivers and their outstanding pool allocations.

    One parent row per verified driver (Address = its verifier entry, the address on
    !verifier's MODULE: line; Length = the total of its outstanding allocations), one
    child row per outstanding tracked allocation (highest address first, as the debugger
    lists them): Address, Length (as stored, including the verifier's trailer), Tag, Caller
    (the return address in the driver) and its symbol. --summary instead lists the
    MmVerifierData statistics, the enabled verifier flags and each driver's counters.
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [
            common.kernel_requirement(),
            *common.filter_requirements(sort=False),
            requirements.BooleanRequirement(
                name="summary", optional=True, default=False,
                description="List the MmVerifierData statistics, flags and per-driver counters instead"),
        ]

    def _selected_verifier(self):
        """The report's verifier section, filtered by the options (None without Driver Verifier)."""
        return select_verifier(common.analyze(self, owners=False),
                               tags=common.patterns(self.config.get("tags")),
                               drivers=common.patterns(self.config.get("driver")),
                               min_bytes=common.option(self, "min-bytes", 0))

    def _generator(self):
        verifier = self._selected_verifier()
        if verifier is None:
            common.vollog.warning("Driver Verifier is not enabled in this dump (no MmVerifierData settings)")
            return
        top = common.option(self, "top")
        for driver in verifier.get("drivers") or []:
            allocations = sorted(driver.get("allocations") or [], key=lambda a: a.get("address", 0),
                                 reverse=True)
            if top is not None:
                allocations = allocations[:top]
            name, loaded = driver.get("name", "?"), bool(driver.get("loaded"))
            yield (0, (name, loaded, common.hexa(driver.get("entry")),
                       format_hints.Hex(sum(a.get("length", 0) for a in driver.get("allocations") or [])),
                       common.NA, common.NA, common.NA))
            for alloc in allocations:
                yield (1, (name, loaded, format_hints.Hex(alloc.get("address", 0)),
                           format_hints.Hex(alloc.get("length", 0)), display_tag(alloc.get("tag", "")),
                           format_hints.Hex(alloc.get("caller", 0)), common.text(alloc.get("caller_symbol"))))

    def _summary(self):
        verifier = self._selected_verifier()
        if verifier is None:
            common.vollog.warning("Driver Verifier is not enabled in this dump (no MmVerifierData settings)")
            return
        level = verifier.get("level", 0) or 0
        yield (0, ("MmVerifierData", "Level", level))
        for bit_name in verifier_flag_names(level):
            yield (0, ("flags", bit_name, 1))
        for name, value in (verifier.get("stats") or {}).items():
            if name != "Level" and isinstance(value, int):
                yield (0, ("MmVerifierData", name, value))
        if isinstance(verifier.get("trace_length"), int):
            yield (0, ("VfPoolTraces", "Length", verifier["trace_length"]))
            yield (0, ("VfPoolTraces", "Records", len(verifier.get("trace_log") or [])))
        for driver in verifier.get("drivers") or []:
            name = driver.get("name", "?")
            yield (0, (name, "Loaded", int(bool(driver.get("loaded")))))
            yield (0, (name, "ListedAllocations", len(driver.get("allocations") or [])))
            yield (0, (name, "ListedBytes", sum(a.get("length", 0) for a in driver.get("allocations") or [])))
            for counter, value in (driver.get("counters") or {}).items():
                if isinstance(value, int):
                    yield (0, (name, counter, value))

    def run(self):
        if self.config.get("summary"):
            return renderers.TreeGrid([("Scope", str), ("Counter", str), ("Value", int)], self._summary())
        return renderers.TreeGrid(
            [("Driver", str), ("Loaded", bool), ("Address", format_hints.Hex),
             ("Length", format_hints.Hex), ("Tag", str), ("Caller", format_hints.Hex),
             ("CallerSymbol", str)],
            self._generator())
