"""windows.verifier: Driver Verifier pool tracking, as !verifier 3 shows it (the ``verifier``
view; with --summary the ``verifierstats`` view).

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.verifier            # drivers and allocations
    vol ... windows.verifier --summary                                  # MmVerifierData + counters
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces
from volatility3.framework.configuration import requirements

from dumpscan.views import VIEWS

from . import dumpscan_common as common

VIEW, SUMMARY = VIEWS["verifier"], VIEWS["verifierstats"]


class Verifier(interfaces.plugins.PluginInterface):
    """Driver Verifier (!verifier 3): verified drivers and their outstanding pool allocations.

    One parent row per verified driver (Address = its verifier entry, the address on
    !verifier's MODULE: line; Length = the total of its outstanding allocations), one
    child row per outstanding tracked allocation (highest address first, as the debugger
    lists them): Address, Length (as stored, including the verifier's trailer), Tag, Key,
    Caller (the return address in the driver) and its symbol. --summary instead lists the
    MmVerifierData statistics, the enabled verifier flags and each driver's counters.
    """

    _required_framework_version = (2, 0, 0)
    _version = (2, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [
            *common.view_requirements(VIEW),
            requirements.BooleanRequirement(
                name="summary", optional=True, default=False,
                description=f"Instead: {SUMMARY.help}"),
        ]

    def run(self):
        return common.view_grid(self, SUMMARY if self.config.get("summary") else VIEW, owners=False)
