"""windows.poolfind: every pool block of the tags, as !poolfind lists them, in seconds
(the ``blocks`` view: the segment-heap or pool-page walk plus the live big-pool blocks).

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.poolfind --tag 'Lea*'
    vol ... windows.poolfind --address 0xffffb20c4010a070     # the block holding it (!pool)
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces

from dumpscan.views import VIEWS

from . import dumpscan_common as common

VIEW = VIEWS["blocks"]


class PoolFind(interfaces.plugins.PluginInterface):
    """Every pool block the walk finds: address, POOL_HEADER, size, tag, pool, allocated.

    Windows 10 19H1+ and 11: the segment heap from nt!ExPoolState (LFH and VS
    subsegments, decoded with the keys at nt!RtlpHpHeapGlobals); Windows 7 / 8.1: the
    POOL_HEADER chains of the pool pages. Blocks of a page or more come from
    PoolBigPageTable. --tag selects tags (wildcards); --address shows the block that
    contains the address and its neighbours, like !pool. The walk checks itself against
    the tag tables: the analysis's warnings name what it could not decode.
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return common.view_requirements(VIEW)

    def run(self):
        return common.view_grid(self, VIEW)
