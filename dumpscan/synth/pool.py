"""A simulation of the kernel pool, tag tracking and Driver Verifier pool tracking.

The factory replays a scenario's allocate/free events here; the resulting state is
then laid out in memory (``kernel_layout``) and summarised as ground truth
(``truth``). Keeping one event model behind both makes every table agree with the
others the way they agree on a real machine: big-page entries, per-processor tag
counters, verifier tracker slots, the trace-log ring and the statistics all come
from the same events.

Models adopted (windows-pool-structures.md; [V]/[M+]/[M] as marked there):
* big blocks are page aligned and recorded in PoolBigPageTable; a free sets Va bit 0
  and leaves the rest (§1.3); the table slot is found by hashing (Va >> 12) * 40543
  with linear probing (§1.3, [M+]);
* tag counters: allocation adds to <Kind>Allocs/<Kind>Bytes, free adds to
  <Kind>Frees and subtracts the bytes, in the table of the processor doing the
  work; Paged iff PoolType & 1 (§2.3, [M+]);
* verifier: tracker slots from per-driver 4 KB pages, LIFO free list, trailer
  pointer at the end of each tracked block, counters, trace log (§3.5-3.8, [M+]).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

PAGE = 0x1000
POOL_VERIFIER_MASK = 0x40  # WRK pool.h [V S4]; tracked blocks show it (e.g. 65, 576)


def tag_key(tag: str) -> int:
    """The 32-bit key of a 4-character tag ('Leak' -> 0x6b61654c)."""
    raw = tag.encode("latin-1").ljust(4, b" ")[:4]
    return int.from_bytes(raw, "little")


def key_tag(key: int) -> str:
    return (key & 0x7FFFFFFF).to_bytes(4, "little").decode("latin-1")


def pool_hash(value: int, mask: int) -> int:
    """Index model used for both tag and big-page tables [M+ decompile, §1.3/§2.3]."""
    product = (value * 40543) & 0xFFFFFFFFFFFFFFFF
    return (product ^ (product >> 32)) & mask


@dataclass
class Block:
    """One pool allocation the simulation made."""

    va: int
    size: int  # requested by the caller
    charged: int  # bytes the pool accounts for (big: page-rounded; small: block size)
    key: int
    pool_type: int  # raw value as passed to the allocator, verifier flag included
    owner: str  # module that allocated it
    caller: int  # return address into the owner
    big: bool
    alloc_cpu: int
    tracker: "TrackerSlot | None" = None
    freed: bool = False

    @property
    def paged(self) -> bool:
        return bool(self.pool_type & 1)


@dataclass
class TrackerSlot:
    """A `_VI_POOL_ENTRY` in a verifier tracker page."""

    page: "TrackerPage"
    index: int  # 1..entries-1
    virtual_address: int = 0
    calling_address: int = 0
    number_of_bytes: int = 0
    tag: int = 0
    in_use: bool = False

    @property
    def va(self) -> int:
        return self.page.va + self.index * self.page.entry_size


@dataclass
class TrackerPage:
    va: int
    entry_size: int
    entries: int
    slots: list[TrackerSlot] = field(default_factory=list)


@dataclass
class TraceRecord:
    """One `_VF_POOL_TRACE` record."""

    address: int
    size: int
    thread: int
    kind: str  # "allocate" or "free"
    stack: list[int]


@dataclass
class VerifiedDriver:
    """Driver Verifier's per-driver state (`_VF_TARGET_VERIFIED_DRIVER_DATA`)."""

    name: str
    pages: list[TrackerPage] = field(default_factory=list)  # push order
    free_slots: list[TrackerSlot] = field(default_factory=list)  # SLIST, top = last
    counters: dict[str, int] = field(default_factory=dict)
    page_pushes: int = 0
    tracker_pushes: int = 0  # SLIST sequence numbers

    def bump(self, member: str, delta: int) -> None:
        self.counters[member] = self.counters.get(member, 0) + delta


@dataclass
class TagCounters:
    paged_allocs: int = 0
    paged_frees: int = 0
    paged_bytes: int = 0
    nonpaged_allocs: int = 0
    nonpaged_frees: int = 0
    nonpaged_bytes: int = 0

    def add(self, other: "TagCounters") -> None:
        for name in TAG_MEMBERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def members(self) -> dict[str, int]:
        """The values by their _POOL_TRACKER_TABLE member names."""
        return {member: getattr(self, name) for name, member in TAG_MEMBERS.items()}


# TagCounters field -> _POOL_TRACKER_TABLE member (also the truth's row keys)
TAG_MEMBERS = {
    "paged_allocs": "PagedAllocs", "paged_frees": "PagedFrees", "paged_bytes": "PagedBytes",
    "nonpaged_allocs": "NonPagedAllocs", "nonpaged_frees": "NonPagedFrees",
    "nonpaged_bytes": "NonPagedBytes",
}


class Arena:
    """Hands out virtual addresses for big (page-aligned) blocks of one pool.

    A block never straddles a 2 MB boundary unless it is larger than 2 MB, which
    reproduces the address pattern of the Driver Verifier article (two 0xfb000
    blocks per 2 MB chunk). Freed ranges are reused first-fit by exact size."""

    CHUNK = 0x200000

    def __init__(self, base: int) -> None:
        self.base = base
        self.next = base
        self.free: list[tuple[int, int]] = []

    @property
    def used(self) -> int:
        """Bytes of address space handed out so far (the arena's extent)."""
        return self.next - self.base

    def take(self, size: int) -> int:
        for i, (va, length) in enumerate(self.free):
            if length == size:
                del self.free[i]
                return va
        start = self.next
        if size <= self.CHUNK and (start % self.CHUNK) + size > self.CHUNK:
            start = (start // self.CHUNK + 1) * self.CHUNK
        self.next = start + size
        return start

    def give_back(self, va: int, size: int) -> None:
        self.free.append((va, size))


class BigPageTable:
    """PoolBigPageTable: power-of-two slots, hashed on the page number, linear probing.

    Kept as numpy columns (Va, Key, PoolType, NumberOfBytes) so that a million-entry
    table costs a few arrays, not a million objects. A slot with Va bit 0 set is free;
    every slot starts as Va = 1, Key = 0 (free, never used) [V S4 init]."""

    def __init__(self, size: int) -> None:
        if size & (size - 1):
            raise ValueError("PoolBigPageTableSize must be a power of two")
        self.va = np.ones(size, dtype=np.uint64)
        self.key = np.zeros(size, dtype=np.uint32)
        self.pool_type = np.zeros(size, dtype=np.uint32)
        self.number_of_bytes = np.zeros(size, dtype=np.uint64)
        self._slot_of: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.va)

    def insert(self, va: int, key: int, pool_type: int, nbytes: int) -> None:
        mask = len(self.va) - 1
        index = pool_hash(va >> 12, mask)
        for _ in range(len(self.va)):
            if int(self.va[index]) & 1:
                self._store(index, va, key, pool_type, nbytes)
                return
            index = (index + 1) & mask
        raise OverflowError("big page table full")

    def _store(self, index: int, va: int, key: int, pool_type: int, nbytes: int) -> None:
        self.va[index], self.key[index] = va, key
        self.pool_type[index], self.number_of_bytes[index] = pool_type, nbytes
        self._slot_of[va] = index

    def bulk_insert(self, va: np.ndarray, key: np.ndarray, pool_type: np.ndarray,
                    nbytes: np.ndarray, free: np.ndarray) -> None:
        """Insert many blocks at once (the large benchmark dumps); ``free`` marks the
        ones already freed again (stale entries). Collisions probe linearly."""
        mask = np.uint64(len(self.va) - 1)
        product = (va >> np.uint64(12)) * np.uint64(40543)
        index = (product ^ (product >> np.uint64(32))) & mask
        pending = np.arange(len(va))
        while pending.size:
            slots = index[pending]
            open_slot = (self.va[slots] & np.uint64(1)) == 1
            candidates, candidate_slots = pending[open_slot], slots[open_slot]
            _, first = np.unique(candidate_slots, return_index=True)
            winners = candidates[first]
            target = index[winners]
            self.va[target] = va[winners] | free[winners].astype(np.uint64)
            self.key[target] = key[winners]
            self.pool_type[target] = pool_type[winners]
            self.number_of_bytes[target] = nbytes[winners]
            losers = np.setdiff1d(pending, winners, assume_unique=True)
            index[losers] = (index[losers] + np.uint64(1)) & mask
            pending = losers

    def remove(self, va: int) -> None:
        self.va[self._slot_of.pop(va)] |= np.uint64(1)

    def in_use(self) -> int:
        return int(np.count_nonzero((self.va & np.uint64(1)) == 0))


class SmallBlocks(Protocol):
    """Where small blocks go: ``segment_heap.SegmentHeapPool`` (Windows 10 19H1+) or
    ``pool_pages.PoolPages`` (Windows 7, 8.1). ``take`` places a request and returns
    (caller VA, bytes charged); ``record`` binds the new Block to that place."""

    walk: str
    arenas: dict[str, Arena]  # "paged", "nonpaged": the arenas its pages or segments come from

    def is_small(self, size: int) -> bool: ...

    def take(self, size: int, pool_type: int, cpu: int) -> tuple[int, int]: ...

    def record(self, block: Block) -> None: ...

    def release(self, block: Block) -> None: ...

    def blocks(self) -> list[tuple[int, int, Block | None, str, bool]]: ...


class PoolModel:
    """The whole simulated pool state of one machine."""

    def __init__(self, *, pointer_size: int, processors: int, arenas: dict[str, int],
                 trace_length: int, trace_depth: int, verifier_level: int | None,
                 tracker_page_type: int, big_table_size: int, small: "SmallBlocks") -> None:
        self.pointer_size = pointer_size
        self.processors = processors
        self.header_size = 0x10 if pointer_size == 8 else 8  # sizeof(_POOL_HEADER)
        self.big_arenas = {"paged": Arena(arenas["paged"]), "nonpaged": Arena(arenas["nonpaged"])}
        self.small = small
        self.blocks: list[Block] = []
        # per processor: key -> counters
        self.tag_counts: list[dict[int, TagCounters]] = [dict() for _ in range(processors)]
        self.verifier_level = verifier_level
        self.verified: dict[str, VerifiedDriver] = {}
        self.stats: dict[str, int] = {}
        self.trace: list[TraceRecord] = []
        self.trace_length = trace_length
        self.trace_depth = trace_depth
        self.tracker_page_type = tracker_page_type
        self.big_table = BigPageTable(big_table_size)

    def arena_use(self) -> dict[str, int]:
        """Bytes of address space each pool arena has handed out."""
        use = {kind: arena.used for kind, arena in self.big_arenas.items()}
        use.update({f"{kind}_small": arena.used for kind, arena in self.small.arenas.items()})
        return use

    # -- tag counters ------------------------------------------------------------
    def count(self, cpu: int, key: int, paged: bool, allocs: int, frees: int, nbytes: int) -> None:
        counters = self.tag_counts[cpu].setdefault(key, TagCounters())
        kind = "paged" if paged else "nonpaged"
        setattr(counters, f"{kind}_allocs", getattr(counters, f"{kind}_allocs") + allocs)
        setattr(counters, f"{kind}_frees", getattr(counters, f"{kind}_frees") + frees)
        setattr(counters, f"{kind}_bytes", getattr(counters, f"{kind}_bytes") + nbytes)

    # -- allocation ----------------------------------------------------------------

    def allocate(self, *, size: int, tag: str, pool_type: int, owner: str, caller: int,
                 cpu: int, stack: list[int] | None = None, thread: int = 0) -> Block:
        """Allocate like ExAllocatePoolWithTag called from ``caller`` in ``owner``."""
        key = tag_key(tag)
        driver = self.verified.get(owner) if self.verifier_level is not None else None
        requested = size
        if driver is not None:
            size += self.pointer_size  # room for the trailer pointer
            pool_type |= POOL_VERIFIER_MASK
        block = self._place(size, key, pool_type, owner, caller, cpu)
        block.size = requested
        if driver is not None:
            self._track(driver, block)
            self._stat("AllocationsAttempted", 1)
            self._stat("AllocationsSucceeded", 1)
            self._log(TraceRecord(block.va, requested, thread, "allocate", stack or [caller]))
        return block

    def _place(self, size: int, key: int, pool_type: int, owner: str, caller: int,
               cpu: int) -> Block:
        kind = "paged" if pool_type & 1 else "nonpaged"
        if not self.small.is_small(size):
            charged = -(-size // PAGE) * PAGE
            va = self.big_arenas[kind].take(charged)
            self.big_table.insert(va, key, pool_type, charged)
            big = True
        else:
            va, charged = self.small.take(size, pool_type, cpu)
            big = False
        block = Block(va=va, size=size, charged=charged, key=key, pool_type=pool_type,
                      owner=owner, caller=caller, big=big, alloc_cpu=cpu)
        if not big:
            self.small.record(block)
        self.blocks.append(block)
        self.count(cpu, key, bool(pool_type & 1), 1, 0, charged)
        return block

    def free(self, block: Block, *, cpu: int, stack: list[int] | None = None,
             thread: int = 0) -> None:
        """Free like ExFreePoolWithTag on processor ``cpu``."""
        if block.freed:
            raise ValueError(f"double free of {block.va:#x}")
        block.freed = True
        self.count(cpu, block.key, block.paged, 0, 1, -block.charged)
        if block.big:
            self.big_table.remove(block.va)
            self.big_arenas["paged" if block.paged else "nonpaged"].give_back(block.va, block.charged)
        else:
            self.small.release(block)
        if block.tracker is not None:
            self._untrack(block)
            self._log(TraceRecord(block.va, block.charged, thread, "free",
                                  stack or [block.caller]))

    # -- Driver Verifier -------------------------------------------------------------
    def verify(self, driver_name: str) -> VerifiedDriver:
        driver = VerifiedDriver(driver_name)
        self.verified[driver_name] = driver
        return driver

    def _stat(self, member: str, delta: int) -> None:
        self.stats[member] = self.stats.get(member, 0) + delta

    def _grow(self, driver: VerifiedDriver, cpu: int) -> TrackerSlot:
        """ViGrowPoolAllocation: a zeroed 4 KB nonpaged 'Vepp' page; entry 0 is the
        header, entries 1..n-2 go on the free list, the last one is returned."""
        entry_size = 4 * self.pointer_size  # sizeof(_VI_POOL_ENTRY): 0x20 / 0x10
        entries = PAGE // entry_size
        page_block = self._place(PAGE, tag_key("Vepp"), self.tracker_page_type, "nt", 0, cpu)
        page = TrackerPage(page_block.va, entry_size, entries)
        page.slots = [TrackerSlot(page, i) for i in range(entries)]
        driver.pages.append(page)
        driver.page_pushes += 1
        for slot in page.slots[1:entries - 1]:
            slot.number_of_bytes = 1  # "free" marker written at growth [M+]
            driver.free_slots.append(slot)
            driver.tracker_pushes += 1
        return page.slots[entries - 1]

    def _track(self, driver: VerifiedDriver, block: Block) -> None:
        if driver.free_slots:
            slot = driver.free_slots.pop()
            driver.tracker_pushes += 1
        else:
            slot = self._grow(driver, block.alloc_cpu)
        slot.virtual_address = block.va
        slot.calling_address = block.caller
        slot.number_of_bytes = block.charged if block.big else block.size + self.pointer_size
        slot.tag = block.key
        slot.in_use = True
        block.tracker = slot
        kind = "Paged" if block.paged else "NonPaged"
        driver.bump(f"Current{kind}PoolAllocations", 1)
        driver.bump(f"{kind}Bytes", slot.number_of_bytes)
        _peak(driver.counters, f"Peak{kind}PoolAllocations", f"Current{kind}PoolAllocations")
        _peak(driver.counters, f"Peak{kind}Bytes", f"{kind}Bytes")
        self._stat(f"Current{kind}PoolAllocations", 1)
        self._stat(f"{kind}Bytes", slot.number_of_bytes)
        _peak(self.stats, f"Peak{kind}PoolAllocations", f"Current{kind}PoolAllocations")
        _peak(self.stats, f"Peak{kind}Bytes", f"{kind}Bytes")

    def _untrack(self, block: Block) -> None:
        slot = block.tracker
        driver = self.verified[block.owner]
        kind = "Paged" if block.paged else "NonPaged"
        driver.bump(f"Current{kind}PoolAllocations", -1)
        driver.bump(f"{kind}Bytes", -slot.number_of_bytes)
        self._stat(f"Current{kind}PoolAllocations", -1)
        self._stat(f"{kind}Bytes", -slot.number_of_bytes)
        slot.number_of_bytes |= 1
        slot.in_use = False
        driver.free_slots.append(slot)
        driver.tracker_pushes += 1

    def _log(self, record: TraceRecord) -> None:
        record.stack = record.stack[: self.trace_depth]
        self.trace.append(record)

    # -- views used by layout and truth ----------------------------------------------
    def trace_ring(self) -> tuple[int, list[tuple[int, TraceRecord]]]:
        """(VfPoolTracesIndex, [(slot, record)] oldest first) after all events.

        The writer increments the index first and stores at ``index & (Length-1)``
        [M+ decompile, §3.8], so the n-th record (1-based) lands in slot n & mask."""
        mask = self.trace_length - 1
        index = len(self.trace)
        kept = self.trace[-self.trace_length:] if self.trace_length else []
        first = index - len(kept) + 1
        return index, [((first + i) & mask, record) for i, record in enumerate(kept)]

    def live_blocks(self) -> list[Block]:
        return [b for b in self.blocks if not b.freed]


def _peak(counters: dict[str, int], peak: str, current: str) -> None:
    counters[peak] = max(counters.get(peak, 0), counters.get(current, 0))
