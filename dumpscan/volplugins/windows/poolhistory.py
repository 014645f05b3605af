"""windows.poolhistory: the Driver Verifier allocate/free log of a block, as !verifier 80 ADDR
(the ``history`` view).

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.poolhistory --address 0x9ca00000
    vol ... windows.poolhistory --top 50              # the 50 newest records
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces

from dumpscan.views import VIEWS

from . import dumpscan_common as common

VIEW = VIEWS["history"]


class PoolHistory(interfaces.plugins.PluginInterface):
    """Driver Verifier pool allocate/free log (!verifier 80): newest first, with stacks.

    One row per VfPoolTraces record (Index = its ring slot, Kind = allocate or free, the
    block Address, Size, Thread), newest first as the debugger prints them; its stack
    frames follow as child rows (Kind 'frame', Address = the return address, Symbol).
    --address keeps the records of one block; without it, the --top newest records
    (default 20).
    """

    _required_framework_version = (2, 0, 0)
    _version = (2, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return common.view_requirements(VIEW)

    def run(self):
        return common.view_grid(self, VIEW, owners=False)
