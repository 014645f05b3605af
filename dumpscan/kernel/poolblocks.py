"""What a pool walk returns: every block found, as numpy columns, with the walk's
counters and warnings. Shared by the segment-heap walk (``poolwalk_segment``), the
pool-page walk (``poolwalk_pages``) and the big-pool table's live blocks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .bigpool import BigPoolTable
from .view import KernelView

# pool codes of BLOCK_DTYPE["pool"], in report spelling
POOL_NAMES = ("paged", "nonpaged", "nonpaged_nx", "session")
PAGED, NONPAGED, NONPAGED_NX, SESSION = range(4)
SOURCE_NAMES = ("lfh", "vs", "page", "big")
LFH, VS, PAGE_CHAIN, BIG = range(4)

BLOCK_DTYPE = np.dtype([
    ("address", "<u8"),  # the caller's VA (after the POOL_HEADER; a big block's Va)
    ("size", "<u8"),  # bytes the pool charges: BlockSize units incl. the header, or NumberOfBytes
    ("key", "<u4"),  # PoolTag
    ("pool", "u1"),  # POOL_NAMES index
    ("paged", "?"),  # which tag-table counters the block is charged to
    ("allocated", "?"),
    ("source", "u1"),  # SOURCE_NAMES index
])
MAX_WARNINGS_PER_KIND = 4  # walk warnings named one by one per kind; the rest are counted


@dataclass
class WalkLog:
    """Counters and warnings of one walk: every decode failure is counted by kind and
    the first few of each kind are named."""

    counters: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + amount

    def fail(self, kind: str, message: str, amount: int = 1) -> None:
        seen = self.failures.get(kind, 0)
        self.failures[kind] = seen + amount
        if seen < MAX_WARNINGS_PER_KIND:
            self.warnings.append(message)

    def summary_warnings(self) -> list[str]:
        extra = [f"pool walk: {n - MAX_WARNINGS_PER_KIND} more {kind} failures not named"
                 for kind, n in self.failures.items() if n > MAX_WARNINGS_PER_KIND]
        return self.warnings + extra


@dataclass(frozen=True)
class PoolBlocks:
    walk: str  # "segment-heap" or "pool-pages"
    blocks: np.ndarray  # BLOCK_DTYPE sorted by address
    counters: dict[str, int]
    failures: dict[str, int]
    warnings: tuple[str, ...]


def big_blocks(view: KernelView, table: BigPoolTable) -> np.ndarray:
    """The live blocks of the big-pool table (free entries are stale records, §1.3)."""
    live = table.entries[~table.entries["free"]]
    out = np.zeros(len(live), BLOCK_DTYPE)
    out["address"] = live["va"]
    out["size"] = live["bytes"]
    out["key"] = live["key"]
    pool_type = live["pool_type"].astype(np.uint64)
    paged = (pool_type & np.uint64(table.paged_bit)) != 0
    session = (pool_type & np.uint64(table.session_bit)) != 0
    nx_bit = nonpaged_nx_bit(view)
    nx = (pool_type & np.uint64(nx_bit)) != 0 if nx_bit else np.zeros(len(live), bool)
    out["pool"] = np.where(session, SESSION, np.where(paged, PAGED, np.where(nx, NONPAGED_NX,
                                                                             NONPAGED)))
    out["paged"] = paged
    out["allocated"] = True
    out["source"] = BIG
    return out


def nonpaged_nx_bit(view: KernelView) -> int:
    """NonPagedPoolNx from the ISF's _POOL_TYPE enum (0 where the build has none)."""
    enum = view.symbols.document.get("enums", {}).get("_POOL_TYPE", {})
    return int(enum.get("constants", {}).get("NonPagedPoolNx", 0))


def finish(walk: str, parts: list[np.ndarray], log: WalkLog) -> PoolBlocks:
    blocks = np.concatenate(parts) if parts else np.zeros(0, BLOCK_DTYPE)
    blocks = blocks[np.argsort(blocks["address"], kind="stable")]
    return PoolBlocks(walk, blocks, dict(log.counters), dict(log.failures),
                      tuple(log.summary_warnings()))
