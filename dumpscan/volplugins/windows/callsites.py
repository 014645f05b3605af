"""windows.callsites: outstanding Driver Verifier-tracked allocations by caller, with the
newest allocation's stack (the ``callsites`` view).

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.callsites --driver myfault
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces

from dumpscan.views import VIEWS

from . import dumpscan_common as common

VIEW = VIEWS["callsites"]


class CallSites(interfaces.plugins.PluginInterface):
    """Call sites of outstanding verifier-tracked allocations, most bytes first.

    One row per (driver, caller): its outstanding allocations, bytes, tags, and how many
    of them the trace log has an allocate record for; child rows: the newest such
    allocation's stack frames (Caller = the frame, Symbol).
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return common.view_requirements(VIEW)

    def run(self):
        return common.view_grid(self, VIEW, owners=False)
