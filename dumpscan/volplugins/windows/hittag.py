"""windows.hittag: nt!PoolHitTag and, for a dump written at a PoolHitTag break, the caller
chain (the ``hittag`` view).

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.hittag
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces

from dumpscan.views import VIEWS

from . import dumpscan_common as common

VIEW = VIEWS["hittag"]


class HitTag(interfaces.plugins.PluginInterface):
    """PoolHitTag: the tag the pool code breaks on, where it broke, and the caller chain.

    The parent row gives the tag; when the dump was written at the break (bug check 0x1E
    with parameter 1 = 0x80000003: an int 3 in the pool code, no debugger attached) its
    Address is the int 3 and Symbol its function, and the child rows are the return
    addresses found on the interrupted thread's stack, innermost first (Frame, the
    StackAddress they were found at, Address, Symbol, and the CALL instruction before them).
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 1, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return common.view_requirements(VIEW)

    def run(self):
        return common.view_grid(self, VIEW, owners=False)
