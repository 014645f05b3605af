"""Every pool block of a dump: the small-block walk the kernel's build calls for
(segment heap from 19H1, pool pages before) plus the big-pool table's live blocks."""
from __future__ import annotations

import numpy as np

from .bigpool import BigPoolTable
from .poolblocks import BLOCK_DTYPE, PoolBlocks, WalkLog, big_blocks, finish
from .poolwalk_pages import walk_pool_pages
from .poolwalk_segment import is_segment_heap, walk_segment_heap
from .view import KernelView


def read_pool_blocks(view: KernelView, big: BigPoolTable | None) -> PoolBlocks:
    """Walk the pool; ``big`` (read beforehand) supplies the blocks of a page or more."""
    log = WalkLog()
    if big is not None:
        large = big_blocks(view, big)
    else:
        large = np.zeros(0, BLOCK_DTYPE)
        log.fail("big", "pool walk: no big-pool table; blocks of a page or more are missing")
    if is_segment_heap(view):
        walk, parts = "segment-heap", walk_segment_heap(view, log)
    else:
        walk, parts = "pool-pages", walk_pool_pages(view, log, large)
    return finish(walk, parts + [large], log)
