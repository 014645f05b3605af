"""Background pool activity of the rest of the system.

Real tag tables hold hundreds of tags whose counters were spread over all
processors, with frees often on another processor than the allocation (so a
single per-processor entry may show more frees than allocations and negative
bytes: only the sum means anything, doc §2.3). One well-used tag gets counters
past 2^32 so that 32-bit counter fields wrap (Windows 7/8.1).
"""
from __future__ import annotations

import random

import numpy as np

from .pool import PoolModel, tag_key

# Tags of the rest of the system, with the module that owns them (pooltag.txt lists
# these owners; they only need to be plausible here).
SYSTEM_TAGS = {
    "File": "nt", "Irp ": "nt", "MmSt": "nt", "Thre": "nt", "Proc": "nt", "Toke": "nt",
    "ObNm": "nt", "SeAt": "nt", "CM25": "nt", "Even": "nt", "Vad ": "nt", "Sema": "nt",
    "NtFs": "Ntfs.sys", "Ntfx": "Ntfs.sys", "NtfF": "Ntfs.sys",
    "TcpE": "tcpip.sys", "TcpR": "tcpip.sys", "NDnd": "NDIS.SYS", "NDoa": "NDIS.SYS",
    "FMfc": "FLTMGR.SYS", "FMsl": "FLTMGR.SYS",
}
WRAPPING_TAG = "Irp "
MAX_OUTSTANDING = 2  # outstanding blocks per background tag and pool kind


def synthetic_tags(rng: random.Random, count: int, taken: set[int]) -> list[str]:
    """Distinct made-up tags ('Zq3a' style) not colliding with ``taken`` keys."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    out: list[str] = []
    while len(out) < count:
        tag = "".join(rng.choice(alphabet) for _ in range(4))
        if tag_key(tag) not in taken:
            taken.add(tag_key(tag))
            out.append(tag)
    return out


def add_tag_counters(pool: PoolModel, rng: random.Random, tags: list[str],
                     nonpaged_type: int) -> None:
    """Background tags: a long history of allocations freed again (counters only) and
    a few blocks still outstanding, allocated for real so that the pool's pages hold
    exactly what the tag tables count as outstanding. Some of them are freed again at
    the end, so that the pool holds free blocks too."""
    transient = []
    for tag in tags:
        key = tag_key(tag)
        for paged in (False, True):
            if rng.random() < 0.35:
                continue
            allocs = rng.randint(1, 200_000)
            if tag == WRAPPING_TAG and not paged:
                allocs = (1 << 32) + rng.randint(1, 1 << 28)
            outstanding = rng.randint(0, min(allocs, MAX_OUTSTANDING))
            average = rng.choice((0x30, 0x60, 0x100, 0x250, 0x800))
            churn = allocs - outstanding
            freed_later = rng.randint(0, 1)
            churn = max(churn - freed_later, 0)
            for number in range(outstanding + freed_later):
                block = pool.allocate(size=average - rng.choice((0, 0x8, 0x10)), tag=tag,
                                      pool_type=1 if paged else nonpaged_type, owner="nt",
                                      caller=0, cpu=rng.randrange(pool.processors))
                if number >= outstanding:
                    transient.append(block)
            _spread(pool, rng, key, paged, churn, churn, average)
    for block in transient:
        pool.free(block, cpu=rng.randrange(pool.processors))


def _spread(pool: PoolModel, rng: random.Random, key: int, paged: bool, allocs: int,
            frees: int, average: int) -> None:
    cpus = pool.processors
    alloc_parts = _partition(rng, allocs, cpus)
    free_parts = _partition(rng, frees, cpus)
    for cpu in range(cpus):
        a, f = alloc_parts[cpu], free_parts[cpu]
        pool.count(cpu, key, paged, a, f, (a - f) * average)


def _partition(rng: random.Random, total: int, parts: int) -> list[int]:
    cuts = sorted(rng.randint(0, total) for _ in range(parts - 1))
    bounds = [0] + cuts + [total]
    return [bounds[i + 1] - bounds[i] for i in range(parts)]


def add_big_blocks(pool: PoolModel, rng: random.Random, count: int, owners: dict[str, int],
                   pool_types: list[int]) -> None:
    """Big blocks of system tags; about a third are freed again (stale entries)."""
    tags = sorted(SYSTEM_TAGS)
    live = []
    for _ in range(count):
        tag = rng.choice(tags)
        owner = SYSTEM_TAGS[tag]
        pages = rng.choice((1, 1, 2, 3, 4, 8, 16))
        size = pages * 0x1000 - rng.choice((0, 0, 0x10, 0x200, 0x7F0))
        block = pool.allocate(size=size, tag=tag, pool_type=rng.choice(pool_types), owner=owner,
                              caller=owners.get(owner, 0), cpu=rng.randrange(pool.processors))
        live.append(block)
        if rng.random() < 0.33:
            pool.free(live.pop(rng.randrange(len(live))), cpu=rng.randrange(pool.processors))


def add_bulk_big_blocks(pool: PoolModel, seed: int, count: int, pool_types: list[int]) -> None:
    """``count`` big-pool blocks of system tags at once (the large benchmark dumps):
    vectorised, no per-block objects. A quarter are freed again; all are counted in
    the tag tables of the processor index % processors."""
    rng = np.random.default_rng(seed)
    tags = sorted(SYSTEM_TAGS)
    keys = np.array([tag_key(t) for t in tags], dtype=np.uint32)[rng.integers(0, len(tags), count)]
    types = np.array(pool_types, dtype=np.uint32)[rng.integers(0, len(pool_types), count)]
    pages = rng.integers(1, 5, count).astype(np.uint64)
    nbytes = pages * np.uint64(0x1000)
    free = rng.random(count) < 0.25
    paged = (types & 1).astype(bool)
    va = np.zeros(count, dtype=np.uint64)
    for kind, selector in (("paged", paged), ("nonpaged", ~paged)):
        arena = pool.big_arenas[kind]
        sizes = nbytes[selector]
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.uint64)
        va[selector] = np.uint64(arena.next) + offsets
        arena.next += int(sizes.sum())
    pool.big_table.bulk_insert(va, keys, types, nbytes, free)
    count_bulk(pool, keys, paged, free, nbytes * ~free)


def add_bulk_small_blocks(pool: PoolModel, seed: int, count: int, nonpaged_type: int) -> None:
    """``count`` small blocks of system tags at once (benchmark dumps), in LFH buckets of
    0x20-0x100 bytes, paged or nonpaged, on both pool nodes; a tenth are freed again. All
    are counted in the tag tables of the processor index % processors."""
    rng = np.random.default_rng(seed + 1)
    tags = sorted(SYSTEM_TAGS)
    keys = np.array([tag_key(t) for t in tags], dtype=np.uint32)[rng.integers(0, len(tags), count)]
    sizes = rng.choice(np.array([0x20, 0x30, 0x40, 0x60, 0x80, 0x100], dtype=np.int64), count)
    paged = rng.random(count) < 0.5
    types = np.where(paged, 1, nonpaged_type).astype(np.int64)
    allocated = rng.random(count) >= 0.1
    pool.small.bulk(keys, sizes, types, (np.arange(count) % pool.processors) % 2, allocated)
    count_bulk(pool, keys, paged, ~allocated, sizes * allocated)


def count_bulk(pool: PoolModel, keys: np.ndarray, paged: np.ndarray, freed: np.ndarray,
               live_bytes: np.ndarray) -> None:
    """Count bulk-made blocks in the tag tables: block i on processor i % processors, in
    its pool (``paged``); each one allocation, a free where ``freed``, ``live_bytes`` in use."""
    cpu = np.arange(len(keys)) % pool.processors
    for c in range(pool.processors):
        for is_paged in (False, True):
            chosen = (cpu == c) & (paged == is_paged)
            if not chosen.any():
                continue
            unique, inverse = np.unique(keys[chosen], return_inverse=True)
            allocs = np.bincount(inverse, minlength=len(unique))
            frees = np.bincount(inverse, weights=freed[chosen], minlength=len(unique))
            live = np.bincount(inverse, weights=live_bytes[chosen], minlength=len(unique))
            for key, a, f, b in zip(unique, allocs, frees, live):
                pool.count(c, int(key), is_paged, int(a), int(f), int(b))
