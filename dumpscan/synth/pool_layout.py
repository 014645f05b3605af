"""Lays the simulated pool state out in kernel memory.

Every structure is written by member name through the platform's layout tables;
the chains and encodings follow windows-pool-structures.md:
* PoolBigPageTable / PoolBigPageTableSize / ExpPoolBigEntriesInUse (§1);
* PoolTrackTable (= ExPoolTagTables[0]) and one table per further processor,
  indexed alike, plus the linear PoolTrackTableExpansion; the last hashed entry is
  the 'Ovfl' bucket (§2.1-2.3);
* MmVerifierData, VfSuspectDriversList, ViTargetDriversAvl -> _VF_AVL_TABLE[] ->
  RTL AVL nodes -> _VF_TARGET_DRIVER -> _VF_TARGET_VERIFIED_DRIVER_DATA with its
  PoolPageHeaders / PoolTrackers SLISTs, tracker pages and block trailers (§3);
* VfPoolTraces / VfPoolTracesIndex / VfPoolTracesLength (§3.8); PoolHitTag (§4).
"""
from __future__ import annotations

from .machine import Machine, system_bytes
from .memory import PAGE
from .pool import PoolModel, TagCounters, pool_hash, tag_key

VERIFIED_DRIVER_SIGNATURE = 0x98761940  # MI_VERIFIER_ENTRY_SIGNATURE [V S4; M+ later]
POOL_PAGE_SIGNATURE = 0x21321345  # VI_POOL_PAGE_HEADER_SIGNATURE [V S4 mi.h]
DEFAULT_POOL_HIT_TAG = 0xFFFFFF0F  # [V S4; both seed articles]
OVERFLOW_KEY = tag_key("Ovfl")  # WRK's overflow bucket key [V S4]
# Entries of a processor table whose Key the factory leaves 0, so that readers must
# take the key from the global entry at the same index (§2.4 model). Every n-th one.
ZERO_KEY_EVERY = 7


class PoolLayoutWriter:
    def __init__(self, machine: Machine, pool: PoolModel) -> None:
        self.m = machine
        self.pool = pool
        self.packer = machine.packer

    # -- blocks ---------------------------------------------------------------------
    def write_blocks(self) -> None:
        """Back every live big block: its first and last page (the content of paged
        ones is left out of kernel-only dumps, as paged-out pool is). Small blocks are
        written with their pool's pages (segment_heap / pool_pages)."""
        for block in self.pool.blocks:
            if block.freed or not block.big:
                continue
            self.m.space.map(block.va, PAGE)
            last = block.va + block.charged - PAGE
            self.m.space.map(last, PAGE)
            if block.paged and last != block.va:
                self.m.exclude_from_kernel_dump(block.va)

    # -- big pool ---------------------------------------------------------------------
    def write_big_table(self) -> None:
        table = self.pool.big_table
        fields = self.m.platform.types["_POOL_TRACKER_BIG_PAGES"].fields
        type_member = "PoolType" if "PoolType" in fields else "PoolFlags"
        columns = {"Va": table.va, "Key": table.key, type_member: table.pool_type,
                   "NumberOfBytes": table.number_of_bytes}
        data = self.packer.pack_array("_POOL_TRACKER_BIG_PAGES", len(table), columns)
        va = self.m.system_allocation(len(data))
        self.m.write(va, data)
        self.m.write_pointer(self.m.symbol("PoolBigPageTable"), va)
        self.m.write_pointer(self.m.symbol("PoolBigPageTableSize"), len(table))
        self.m.write_u32(self.m.symbol("ExpPoolBigEntriesInUse"), table.in_use())

    def system_arena_bytes(self, bits: int) -> int:
        """Bytes of the system arena :meth:`write_big_table` and :meth:`write_tag_tables`
        will take: the big-page table, one tag table per processor, the expansion."""
        big = len(self.pool.big_table) * self.packer.sizeof("_POOL_TRACKER_BIG_PAGES")
        entry_size = self.packer.sizeof("_POOL_TRACKER_TABLE")
        sizes = [big] + [entry_size * ((1 << bits) + 1)] * len(self.pool.tag_counts)
        _, overflow = self.tag_table_plan(bits)
        if overflow:
            sizes.append(entry_size * _expansion_capacity(overflow, entry_size))
        return sum(system_bytes(size) for size in sizes)

    # -- tag tables -------------------------------------------------------------------
    def tag_table_plan(self, bits: int) -> tuple[dict[int, int], list[int]]:
        """Global index of each key, and the keys that overflow into the expansion
        table, in order of first use."""
        mask = (1 << bits) - 1
        keys: list[int] = []
        seen: set[int] = set()
        for table in self.pool.tag_counts:
            for key in table:
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
        index_of: dict[int, int] = {}
        taken: set[int] = set()
        overflow: list[int] = []
        for key in keys:
            index = pool_hash(key, mask)
            for _ in range(mask + 1):
                if index not in taken:
                    break
                index = (index + 1) & mask
            else:
                overflow.append(key)
                continue
            taken.add(index)
            index_of[key] = index
        return index_of, overflow

    def write_tag_tables(self, bits: int) -> list[int]:
        """Write all tag tables; return the VA of each processor's table."""
        size = (1 << bits) + 1
        entry_size = self.packer.sizeof("_POOL_TRACKER_TABLE")
        index_of, overflow = self.tag_table_plan(bits)
        tables = []
        for cpu, counts in enumerate(self.pool.tag_counts):
            buf = bytearray(entry_size * size)
            for key, index in index_of.items():
                if cpu > 0 and key not in counts:
                    continue  # this processor never used the tag: entry stays zero
                values = counts.get(key, TagCounters()).members()
                if cpu == 0 or index % ZERO_KEY_EVERY:
                    values["Key"] = key
                self.packer.write(buf, index * entry_size, "_POOL_TRACKER_TABLE", values)
            if cpu == 0:
                self.packer.write(buf, (size - 1) * entry_size, "_POOL_TRACKER_TABLE",
                                  {"Key": OVERFLOW_KEY})
            va = self.m.system_allocation(len(buf))
            self.m.write(va, bytes(buf))
            tables.append(va)
        slots = self.m.symbol("ExPoolTagTables")
        for cpu, va in enumerate(tables):
            self.m.write_pointer(slots + cpu * self.m.ptr, va)
        self.m.write_pointer(self.m.symbol("PoolTrackTable"), tables[0])
        self.m.write_pointer(self.m.symbol("PoolTrackTableSize"), size)
        self.m.write_pointer(self.m.symbol("PoolTrackTableMask"), size - 2)
        self._write_expansion(overflow, entry_size)
        return tables

    def _write_expansion(self, keys: list[int], entry_size: int) -> None:
        if not keys:
            self.m.write_pointer(self.m.symbol("PoolTrackTableExpansion"), 0)
            self.m.write_pointer(self.m.symbol("PoolTrackTableExpansionSize"), 0)
            return
        capacity = _expansion_capacity(keys, entry_size)
        buf = bytearray(entry_size * capacity)
        for index, key in enumerate(keys):
            total = TagCounters()
            for counts in self.pool.tag_counts:
                if key in counts:
                    total.add(counts[key])
            values = total.members()
            values["Key"] = key
            self.packer.write(buf, index * entry_size, "_POOL_TRACKER_TABLE", values)
        va = self.m.system_allocation(len(buf))
        self.m.write(va, bytes(buf))
        self.m.write_pointer(self.m.symbol("PoolTrackTableExpansion"), va)
        self.m.write_pointer(self.m.symbol("PoolTrackTableExpansionSize"), capacity)

    # -- PoolHitTag ---------------------------------------------------------------------
    def write_pool_hit_tag(self, tag: str | None) -> None:
        self.m.write_u32(self.m.symbol("PoolHitTag"),
                         tag_key(tag) if tag else DEFAULT_POOL_HIT_TAG)



def _expansion_capacity(keys: list[int], entry_size: int) -> int:
    """Entries of PoolTrackTableExpansion: the overflowing keys, at least a page [M]."""
    return max(PAGE // entry_size, len(keys))
