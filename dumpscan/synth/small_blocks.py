"""Which small-block allocator a platform's kernel uses, writing it out, and the
truth's list of every pool block."""
from __future__ import annotations

import numpy as np

from .machine import Machine
from .platforms.base import Platform
from .pool import PoolModel, SmallBlocks, key_tag
from .pool_pages import PoolPages, PoolPagesWriter, write_pool_ranges
from .segment_heap import SegmentHeapPool, SegmentHeapWriter


def small_blocks(platform: Platform, arenas: dict[str, int], seed: int) -> SmallBlocks:
    """The segment heap where the kernel has ``ExPoolState`` (19H1+: the public symbols
    of 18362 and later carry it, segment-heap-pool.md §0), else pool pages."""
    if "ExPoolState" in platform.symbols and "_SEGMENT_HEAP" in platform.types:
        return SegmentHeapPool(arenas, platform.version[2], seed)
    return PoolPages(arenas, platform.pointer_size)


def write_small_blocks(machine: Machine, pool: SmallBlocks) -> None:
    if isinstance(pool, SegmentHeapPool):
        SegmentHeapWriter(machine, pool).write()
    else:
        PoolPagesWriter(machine, pool).write()


def pool_class(pool_type: int) -> str:
    """The pool a pool type names in the report: "session" (bit 0x20), "paged" (bit 0),
    "nonpaged_nx" (0x200) or "nonpaged" [_POOL_TYPE enum of every ISF]."""
    if pool_type & 0x20:
        return "session"
    if pool_type & 1:
        return "paged"
    return "nonpaged_nx" if pool_type & 0x200 else "nonpaged"


def pool_blocks_truth(machine: Machine, pool: PoolModel) -> dict:
    """The truth's ``pool_blocks``: every block of the small-block pool (allocated and
    free, as its walk finds them) and every live big-pool block, sorted by address.
    A small block's pool is its heap's (or page's), or "session" where an allocated
    block's header keeps the session bit (the factory places small session blocks in
    paged pool, MODEL; a free block's header no longer says)."""
    rows = [{"address": machine.canonical(va), "size": size, "key": block.key if block else 0,
             "tag": key_tag(block.key if block else 0),
             "pool": "session" if allocated and block.pool_type & 0x20 else kind,
             "allocated": allocated,
             "reachable": None}
            for va, size, block, kind, allocated in pool.small.blocks()]
    bulk = pool.small.bulk_blocks() if isinstance(pool.small, SegmentHeapPool) else {}
    if bulk:
        tags = {}
        for address, size, key, kind, allocated in zip(
                bulk["address"].tolist(), bulk["size"].tolist(), bulk["key"].tolist(),
                bulk["pool"].tolist(), bulk["allocated"].tolist()):
            rows.append({"address": machine.canonical(address), "size": size, "key": key,
                         "tag": tags.get(key) or tags.setdefault(key, key_tag(key)), "pool": kind,
                         "allocated": allocated, "reachable": None})
    table = pool.big_table
    live = np.flatnonzero(((table.va & np.uint64(1)) == 0) & (table.key != 0))
    for index in live:
        key = int(table.key[index])
        rows.append({"address": machine.canonical(int(table.va[index])),
                     "size": int(table.number_of_bytes[index]), "key": key, "tag": key_tag(key),
                     "pool": pool_class(int(table.pool_type[index])), "allocated": True,
                     "reachable": None})
    rows.sort(key=lambda row: row["address"])
    return {"walk": pool.small.walk, "blocks": rows}


def write_pool_locations(machine: Machine, pool: PoolModel) -> None:
    """After everything is laid out: the globals that say where the pools are (pool-page
    kernels only; ExPoolState says it on the segment heap)."""
    if isinstance(pool.small, SegmentHeapPool):
        return
    spans = []
    for kind, arena in list(pool.big_arenas.items()) + list(pool.small.arenas.items()):
        spans.append((arena.base, arena.next, kind))
    system = machine.arenas["system"].start
    spans.append((system, system + machine.system_used(), "nonpaged"))
    write_pool_ranges(machine, [s for s in spans if s[1] > s[0]])
