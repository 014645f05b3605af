"""windows.poolleak: dumpscan's leak report as a grid (the ``suspects`` view): suspects with
their evidence, then the top tags; the call sites holding each one's outstanding allocations
as child rows.

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.poolleak
    vol ... windows.poolleak --suspects-only -r json
    vol ... windows.poolleak --tag 'Lea*' --sort paged --top 5
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces

from dumpscan.views import VIEWS

from . import dumpscan_common as common

VIEW = VIEWS["suspects"]


class PoolLeak(interfaces.plugins.PluginInterface):
    """Pool leak suspects with their evidence, then the top tags; call sites as child rows.

    Parent rows, ranked: every suspect (a tag or a verified driver that a rule flags:
    few frees, one call site, a dominating driver, unloaded with allocations, big pool
    dominated, PoolHitTag), most severe first, with its rules and evidence; then (unless
    --suspects-only) the tags with the most outstanding bytes that are not suspects
    (Severity 'none'). Child rows: the call sites (Driver Verifier tracking) holding the
    subject's outstanding allocations, with the newest allocation's stack from the trace log.
    """

    _required_framework_version = (2, 0, 0)
    _version = (2, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return common.view_requirements(VIEW, "pooltag")

    def run(self):
        return common.view_grid(self, VIEW)
