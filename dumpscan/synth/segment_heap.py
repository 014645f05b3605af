"""The kernel pool of Windows 10 19H1+ and 11 as a segment heap: small blocks placed in
LFH and VS subsegments of 1 MiB segments, and the structures laid out in memory.

Facts from ../shared/design/segment-heap-pool.md (section numbers below; V = verified
against the ISF or two sources, S = single source, G = guess); docs/factory.md lists
each with its status. Layouts come from the platform tables (real ISFs).

* ``nt!ExPoolState`` (_EX_POOL_HEAP_MANAGER_STATE): HeapManager.Globals -> the keys at
  ``nt!RtlpHpHeapGlobals``; NumberOfPools; PoolNode[i].Heaps[0..3] = NonPaged,
  NonPagedNx, Paged, Paged (§1, V). The factory has POOL_NODES nodes (MODEL).
* _SEGMENT_HEAP: Signature 0xDDEEDDEE (§1, V); SegContexts[0] serves small blocks:
  1 MiB segments of 256 4 KiB units, SegContexts[1] 16 MiB segments of 64 KiB units
  (§2, V); FirstDescriptorIndex 2 / 1 (§2, G: the 0x2000-byte segment header).
* Segment signature = segment ^ SegContext VA ^ HeapKey ^ 0xA2E64EADA2E64EAD, the
  constant 0 from build 26100 (§2, V; 26100: S).
* Range descriptors: RangeFlags 0xB = LFH, 0xF = VS (first unit), 1 = continuation
  (byte +0x1f = UnitOffset back to the first unit), 0 = free; UnitSize in units at
  +0x1f of the first descriptor (§2, V); TreeSignature 0xCCDDCCDD (§2, S [PV]).
* LFH subsegment (§3): EncodedData = (BlockSize | FirstBlockOffset << 16) ^
  low32(LfhKey) ^ (low32(VA) >> 12), from 26100 low32(VA >> 12) (V; 26100: S); block k
  at FirstBlockOffset + k * BlockSize; bitmap bits 2k (busy) / 2k+1, allocated = 01,
  free = 00 (V); the POOL_HEADER at the block start, BlockSize = block / 16 (V).
  Blocks up to LFH_MAX_BLOCK bytes (0x200, S [SC]); one page per subsegment (MODEL).
* VS subsegment (§4): Signature ^ Size ^ 0x2BED has no low 15 bits set, Size in 16-byte
  units (V / S); first chunk header at +0x30 (V); HeaderBits = fields ^ chunk VA ^
  HeapKey with UnsafeSize / UnsafePrevSize in 16-byte units, Allocated != 0 in use
  (V); EncodedSegmentPageOffset = page index in the subsegment ^ low byte of
  (chunk VA ^ HeapKey) (V); the POOL_HEADER at chunk + 0x10 with BlockSize =
  (chunk - 16) / 16 (V). VS_UNITS pages per subsegment (MODEL).
* POOL_HEADER from 19H1 (§6, S [SC]): PreviousSize 0, PoolIndex 0, PoolType =
  (requested & 0x6D) | 2.
* Not modelled: delay-free and dynamic lookaside caches (§7), the free-chunk tree,
  large allocations inside segments (big blocks stay in PoolBigPageTable, §5),
  session pool (§1), quota charges (ProcessBilled 0).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from .machine import Machine
from .pool import PAGE, Arena, Block
from .tiling import Piece, TiledRun

HEAP_SIGNATURE = 0xDDEEDDEE
SEGMENT_SIGNATURE_CONSTANT = 0xA2E64EADA2E64EAD  # builds before 26100
TREE_SIGNATURE = 0xCCDDCCDD
VS_SIGNATURE_KEY = 0x2BED
POOL_NODES = 2  # MODEL: a two-node machine
HEAP_INDEX = {"nonpaged": 0, "nonpaged_nx": 1, "paged": 2}  # Heaps[3] (Paged) stays empty
HEAPS_PER_NODE = 4
SEGMENT_BYTES = 0x100000
UNIT_SHIFT = (12, 16)  # SegContexts[0], [1]
FIRST_DESCRIPTOR = (2, 1)
UNITS = 256
RANGE_FREE, RANGE_CONTINUATION, RANGE_LFH, RANGE_VS = 0x0, 0x1, 0xB, 0xF
LFH_MAX_BLOCK = 0x200
LFH_UNITS = 1
VS_UNITS = 4
VS_FIRST_CHUNK = 0x30
VS_CHUNK_HEADER = 0x10
VS_MIN_FREE = 0x20  # _HEAP_VS_CHUNK_FREE_HEADER
POOL_HEADER = 0x10
HEAP_POOL_TYPE_MASK, HEAP_POOL_TYPE_SET = 0x6D, 0x2


def heap_class(pool_type: int) -> str:
    """The heap a pool type goes to: "paged", "nonpaged_nx" or "nonpaged"."""
    if pool_type & 1:
        return "paged"
    return "nonpaged_nx" if pool_type & 0x200 else "nonpaged"


@dataclass
class BulkLfhSubsegment:
    """An LFH subsegment filled in bulk (benchmark dumps): the tag key of each slot
    (0: never used) and its busy bit, as arrays; no Block objects."""

    va: int
    block_size: int
    first: int
    count: int
    keys: np.ndarray  # uint32 per slot
    busy: np.ndarray  # bool per slot
    pool_type: int


def lfh_geometry(block_size: int) -> tuple[int, int]:
    """(FirstBlockOffset, block count) of a one-page LFH subsegment: the 0x30-byte header,
    then the 2-bit-per-block bitmap, 16-byte aligned, then the blocks (MODEL)."""
    span = LFH_UNITS * PAGE
    count = (span - 0x30) // block_size
    while True:
        first = -(-(0x30 + -(-2 * count // 64) * 8) // 0x10) * 0x10
        fitting = (span - first) // block_size
        if fitting >= count:
            return first, count
        count = fitting


@dataclass
class LfhSubsegment:
    va: int
    block_size: int
    first: int  # FirstBlockOffset
    count: int
    slots: list[Block | None]  # last block whose header is in the slot
    busy: list[bool]


@dataclass
class VsSubsegment:
    va: int
    run: TiledRun


@dataclass
class Range:
    first_unit: int
    units: int
    flags: int  # RANGE_LFH or RANGE_VS
    subsegment: LfhSubsegment | VsSubsegment | BulkLfhSubsegment


@dataclass
class Segment:
    va: int
    ranges: list[Range] = field(default_factory=list)
    next_unit: int = FIRST_DESCRIPTOR[0]


@dataclass
class Heap:
    node: int
    index: int
    segments: list[Segment] = field(default_factory=list)
    lfh: dict[int, list[LfhSubsegment]] = field(default_factory=dict)
    vs: list[VsSubsegment] = field(default_factory=list)


class SegmentHeapPool:
    """Places small blocks like the segment-heap pool; ``PoolModel`` calls ``take`` and
    ``record`` for each small allocation and ``release`` for each free."""

    walk = "segment-heap"

    def __init__(self, arenas: dict[str, int], build: int, seed: int) -> None:
        self.arenas = {"paged": Arena(arenas["paged_small"]),
                       "nonpaged": Arena(arenas["nonpaged_small"])}
        self.build = build
        rng = random.Random(f"heap-keys-{seed}")
        self.heap_key = rng.getrandbits(64)
        self.lfh_key = rng.getrandbits(64)
        self.heaps = {(node, index): Heap(node, index)
                      for node in range(POOL_NODES) for index in range(HEAPS_PER_NODE)}
        self._placed: dict[int, tuple[Heap, LfhSubsegment | VsSubsegment, int | Piece]] = {}
        self._pending: tuple | None = None
        self.bulk_subsegments: list[tuple[Heap, BulkLfhSubsegment]] = []

    @staticmethod
    def is_small(size: int) -> bool:
        """Small iff the request fits a block whose POOL_HEADER BlockSize (8 bits of
        16-byte units) can describe it: WRK's POOL_BUDDY_MAX = page - 2 headers."""
        return size <= PAGE - 2 * POOL_HEADER

    def take(self, size: int, pool_type: int, cpu: int) -> tuple[int, int]:
        """(caller VA, bytes charged = the heap block) for a small request."""
        heap = self.heaps[(cpu % POOL_NODES, HEAP_INDEX[heap_class(pool_type)])]
        total = -(-(size + POOL_HEADER) // 0x10) * 0x10
        if total <= LFH_MAX_BLOCK:
            sub, slot = self._lfh_slot(heap, total)
            sub.busy[slot] = True
            block_va = sub.va + sub.first + slot * sub.block_size
            self._pending = (heap, sub, slot)
            return block_va + POOL_HEADER, total
        sub, piece = self._vs_chunk(heap, total + VS_CHUNK_HEADER)
        self._pending = (heap, sub, piece)
        return sub.va + piece.offset + VS_CHUNK_HEADER + POOL_HEADER, piece.size - VS_CHUNK_HEADER

    def record(self, block: Block) -> None:
        heap, sub, where = self._pending
        if isinstance(where, Piece):
            where.block = block
        else:
            sub.slots[where] = block
        self._placed[block.va] = (heap, sub, where)

    def release(self, block: Block) -> None:
        heap, sub, where = self._placed.pop(block.va)
        if isinstance(where, Piece):
            sub.run.release(where)
        else:
            sub.busy[where] = False

    def bulk(self, keys: np.ndarray, sizes: np.ndarray, pool_types: np.ndarray, nodes: np.ndarray,
             allocated: np.ndarray) -> None:
        """Many LFH blocks at once (benchmark dumps): ``sizes`` are heap blocks (header
        included, 16-byte multiples up to LFH_MAX_BLOCK); each (node, heap, size) group
        fills fresh one-page subsegments in order."""
        classes = _heap_indexes(pool_types)
        group = (nodes.astype(np.int64) * 8 + classes) * 0x1000 + sizes.astype(np.int64)
        for code in np.unique(group).tolist():
            chosen = np.flatnonzero(group == code)
            node, index, block_size = code // 0x1000 // 8, code // 0x1000 % 8, code % 0x1000
            heap = self.heaps[(node, index)]
            first, count = lfh_geometry(block_size)
            pool_type = int(pool_types[chosen[0]])
            for start in range(0, len(chosen), count):
                part = chosen[start:start + count]
                va, first_unit = self._units(heap, LFH_UNITS)
                slot_keys = np.zeros(count, np.uint32)
                slot_keys[:len(part)] = keys[part]
                busy = np.zeros(count, bool)
                busy[:len(part)] = allocated[part]
                sub = BulkLfhSubsegment(va, block_size, first, count, slot_keys, busy, pool_type)
                heap.segments[-1].ranges.append(Range(first_unit, LFH_UNITS, RANGE_LFH, sub))
                self.bulk_subsegments.append((heap, sub))

    # -- placement ----------------------------------------------------------------------
    def _units(self, heap: Heap, units: int) -> tuple[int, int]:
        """(range VA, first unit) of ``units`` fresh units of SegContexts[0]."""
        if not heap.segments or heap.segments[-1].next_unit + units > UNITS:
            kind = "paged" if heap.index >= 2 else "nonpaged"
            heap.segments.append(Segment(self.arenas[kind].take(SEGMENT_BYTES)))
        segment = heap.segments[-1]
        first = segment.next_unit
        segment.next_unit += units
        return segment.va + (first << UNIT_SHIFT[0]), first

    def _lfh_slot(self, heap: Heap, block_size: int) -> tuple[LfhSubsegment, int]:
        for sub in heap.lfh.get(block_size, []):
            if not all(sub.busy):
                return sub, sub.busy.index(False)
        va, first_unit = self._units(heap, LFH_UNITS)
        first, count = lfh_geometry(block_size)
        sub = LfhSubsegment(va, block_size, first, count, [None] * count, [False] * count)
        heap.lfh.setdefault(block_size, []).append(sub)
        heap.segments[-1].ranges.append(Range(first_unit, LFH_UNITS, RANGE_LFH, sub))
        return sub, 0

    def _vs_chunk(self, heap: Heap, chunk: int) -> tuple[VsSubsegment, Piece]:
        for sub in heap.vs:
            piece = sub.run.take(chunk)
            if piece is not None:
                return sub, piece
        va, first_unit = self._units(heap, VS_UNITS)
        sub = VsSubsegment(va, TiledRun(VS_FIRST_CHUNK, VS_UNITS * PAGE, VS_MIN_FREE))
        heap.vs.append(sub)
        heap.segments[-1].ranges.append(Range(first_unit, VS_UNITS, RANGE_VS, sub))
        return sub, sub.run.take(chunk)

    # -- truth ----------------------------------------------------------------------------
    def blocks(self) -> list[tuple[int, int, Block, str, bool]]:
        """(caller VA, block bytes, block, pool, allocated) of every block a walk finds:
        every LFH slot that ever held a block (a never-used slot has a zero header)
        and every allocated VS chunk (a free chunk's header holds no POOL_HEADER)."""
        names = {index: name for name, index in HEAP_INDEX.items()}
        out = []
        for heap in self.heaps.values():
            pool = names.get(heap.index, "paged")
            for subs in heap.lfh.values():
                for sub in subs:
                    for slot, block in enumerate(sub.slots):
                        if block is not None:
                            va = sub.va + sub.first + slot * sub.block_size + POOL_HEADER
                            out.append((va, sub.block_size, block, pool, sub.busy[slot]))
            for sub in heap.vs:
                for piece in sub.run.pieces:
                    if piece.allocated:
                        va = sub.va + piece.offset + VS_CHUNK_HEADER + POOL_HEADER
                        out.append((va, piece.size - VS_CHUNK_HEADER, piece.block, pool, True))
        return out

    def bulk_blocks(self) -> dict[str, np.ndarray]:
        """The bulk subsegments' blocks as columns: address, size, key, pool (name),
        allocated (slots that never held a block left out)."""
        names = {index: name for name, index in HEAP_INDEX.items()}
        parts = []
        for heap, sub in self.bulk_subsegments:
            used = np.flatnonzero(sub.keys != 0)
            parts.append((np.uint64(sub.va + sub.first + POOL_HEADER)
                          + used.astype(np.uint64) * np.uint64(sub.block_size),
                          np.full(len(used), sub.block_size, np.uint64), sub.keys[used],
                          np.full(len(used), names.get(heap.index, "paged")), sub.busy[used]))
        if not parts:
            return {}
        columns = [np.concatenate(c) for c in zip(*parts)]
        return dict(zip(("address", "size", "key", "pool", "allocated"), columns))


def _heap_indexes(pool_types: np.ndarray) -> np.ndarray:
    """HEAP_INDEX of heap_class for many pool types at once."""
    paged = (pool_types & 1) != 0
    nx = (pool_types & 0x200) != 0
    return np.where(paged, HEAP_INDEX["paged"], np.where(nx, HEAP_INDEX["nonpaged_nx"],
                                                         HEAP_INDEX["nonpaged"])).astype(np.int64)


class SegmentHeapWriter:
    """Writes ExPoolState, the keys, the heaps, segments and subsegments."""

    def __init__(self, machine: Machine, pool: SegmentHeapPool) -> None:
        self.m = machine
        self.pool = pool
        self.packer = machine.packer

    def write(self) -> None:
        m, pool = self.m, self.pool
        m.write_struct(m.symbol("RtlpHpHeapGlobals"), "_RTLP_HP_HEAP_GLOBALS",
                       {"HeapKey": pool.heap_key, "LfhKey": pool.lfh_key})
        heap_va = {}
        for key, heap in pool.heaps.items():
            heap_va[key] = m.system_allocation(self.packer.sizeof("_SEGMENT_HEAP"))
            self._write_heap(heap, heap_va[key])
        # member by member: the whole state is 0x86940 bytes, mostly nodes not in use
        state = m.symbol("ExPoolState")
        offset = self.packer.offsetof
        m.write_pointer(state + offset("_EX_POOL_HEAP_MANAGER_STATE.HeapManager.Globals"),
                        m.symbol("RtlpHpHeapGlobals"))
        m.write_u32(state + offset("_EX_POOL_HEAP_MANAGER_STATE.NumberOfPools"), POOL_NODES)
        node_size = self.packer.sizeof("_EX_HEAP_POOL_NODE")
        for node in range(POOL_NODES):
            heaps = state + offset("_EX_POOL_HEAP_MANAGER_STATE.PoolNode") + node * node_size \
                + offset("_EX_HEAP_POOL_NODE.Heaps")
            for index in range(HEAPS_PER_NODE):
                m.write_pointer(heaps + index * m.ptr, heap_va[(node, index)])

    def _write_heap(self, heap: Heap, va: int) -> None:
        context_offset = self.packer.offsetof("_SEGMENT_HEAP.SegContexts")
        context_size = self.packer.sizeof("_HEAP_SEG_CONTEXT")
        list_offset = self.packer.offsetof("_HEAP_SEG_CONTEXT.SegmentListHead")
        contexts = []
        for index in range(2):
            context_va = va + context_offset + index * context_size
            head = context_va + list_offset
            segments = heap.segments if index == 0 else []
            links = [head] + [s.va for s in segments] + [head]
            contexts.append({
                "SegmentMask": ~((SEGMENT_BYTES << (4 * index)) - 1) & (2 ** 64 - 1),
                "UnitShift": UNIT_SHIFT[index], "FirstDescriptorIndex": FIRST_DESCRIPTOR[index],
                "Heap": va, "SegmentCount": len(segments),
                "SegmentListHead": {"Flink": links[1], "Blink": links[-2]}})
            for position, segment in enumerate(segments, start=1):
                self._write_segment(segment, context_va, links[position + 1], links[position - 1])
        self.m.write_struct(va, "_SEGMENT_HEAP",
                            {"Signature": HEAP_SIGNATURE, "SegContexts": contexts})

    def _write_segment(self, segment: Segment, context_va: int, flink: int, blink: int) -> None:
        constant = 0 if self.pool.build >= 26100 else SEGMENT_SIGNATURE_CONSTANT
        descriptors = [{} for _ in range(UNITS)]
        for r in segment.ranges:
            descriptors[r.first_unit] = {"TreeSignature": TREE_SIGNATURE, "RangeFlags": r.flags,
                                         "CommittedPageCount": r.units, "UnitSize": r.units}
            for unit in range(1, r.units):
                descriptors[r.first_unit + unit] = {"RangeFlags": RANGE_CONTINUATION,
                                                    "UnitOffset": unit}
            if isinstance(r.subsegment, BulkLfhSubsegment):
                self._write_bulk_lfh(r.subsegment)
            elif r.flags == RANGE_LFH:
                self._write_lfh(r.subsegment)
            else:
                self._write_vs(r.subsegment)
        if segment.next_unit < UNITS:
            descriptors[segment.next_unit] = {"RangeFlags": RANGE_FREE,
                                              "UnitSize": UNITS - segment.next_unit}
        header = self.packer.pack("_HEAP_PAGE_SEGMENT", {"DescArray": descriptors})
        self.packer.write(header, 0, "_HEAP_PAGE_SEGMENT", {
            "ListEntry": {"Flink": flink, "Blink": blink},
            "Signature": segment.va ^ context_va ^ self.pool.heap_key ^ constant})
        self.m.write(segment.va, bytes(header))

    def _pool_header(self, va: int, block: Block, block_bytes: int) -> None:
        self.m.write_struct(va, "_POOL_HEADER", {
            "PreviousSize": 0, "PoolIndex": 0, "BlockSize": block_bytes // 0x10,
            "PoolType": (block.pool_type & HEAP_POOL_TYPE_MASK) | HEAP_POOL_TYPE_SET,
            "PoolTag": block.key})

    # Subsegments are mapped whole and written field by field: the blocks' contents
    # (loader entries, tracker pages...) are already in place.
    def _lfh_header(self, sub: LfhSubsegment | BulkLfhSubsegment) -> bytearray:
        """The subsegment header and bitmap (FirstBlockOffset bytes)."""
        buf = bytearray(sub.first)
        if self.pool.build >= 26100:
            salt = (sub.va >> 12) & 0xFFFFFFFF
        else:
            salt = (sub.va & 0xFFFFFFFF) >> 12
        encoded = (sub.block_size | sub.first << 16) ^ (self.pool.lfh_key & 0xFFFFFFFF) ^ salt
        busy = [bool(flag) for flag in sub.busy]
        self.packer.write(buf, 0, "_HEAP_LFH_SUBSEGMENT", {
            "FreeCount": sub.count - sum(busy), "BlockCount": sub.count,
            "BlockOffsets": {"EncodedData": encoded & 0xFFFFFFFF}})
        bitmap = self.packer.offsetof("_HEAP_LFH_SUBSEGMENT.BlockBitmap")
        words = -(-2 * sub.count // 64)
        bits = sum(1 << (2 * k) for k, flag in enumerate(busy) if flag)
        buf[bitmap:bitmap + 8 * words] = bits.to_bytes(8 * words, "little")
        return buf

    def _write_bulk_lfh(self, sub: BulkLfhSubsegment) -> None:
        """A bulk subsegment as one page: header, bitmap, the used slots' POOL_HEADERs."""
        page = np.zeros(LFH_UNITS * PAGE, np.uint8)
        page[:sub.first] = np.frombuffer(bytes(self._lfh_header(sub)), np.uint8)
        used = np.flatnonzero(sub.keys != 0)
        headers = self.packer.pack_array("_POOL_HEADER", len(used), {
            "BlockSize": np.full(len(used), sub.block_size // 0x10),
            "PoolType": np.full(len(used), (sub.pool_type & HEAP_POOL_TYPE_MASK) | HEAP_POOL_TYPE_SET),
            "PoolTag": sub.keys[used]})
        size = self.packer.sizeof("_POOL_HEADER")
        at = sub.first + used * sub.block_size
        page[at[:, None] + np.arange(size)] = np.frombuffer(headers, np.uint8).reshape(len(used), size)
        self.m.write(sub.va, page.tobytes())

    def _write_lfh(self, sub: LfhSubsegment) -> None:
        self.m.space.map(sub.va, LFH_UNITS * PAGE)
        self.m.write(sub.va, bytes(self._lfh_header(sub)))
        for slot, block in enumerate(sub.slots):
            if block is not None:
                self._pool_header(sub.va + sub.first + slot * sub.block_size, block, sub.block_size)

    def _write_vs(self, sub: VsSubsegment) -> None:
        size = VS_UNITS * PAGE
        self.m.space.map(sub.va, size)
        units = size // 0x10
        self.m.write_struct(sub.va, "_HEAP_VS_SUBSEGMENT", {
            "Size": units, "Signature": (units ^ VS_SIGNATURE_KEY) & 0x7FFF, "FullCommit": 0})
        previous = 0
        key = self.pool.heap_key
        for piece in sub.run.pieces:
            chunk_va = sub.va + piece.offset
            sizes = ((piece.size // 0x10) << 16 | previous << 32
                     | (1 if piece.allocated else 0) << 48)
            header = bytearray((sizes ^ chunk_va ^ key).to_bytes(8, "little") + bytes(8))
            self.packer.write(header, 0, "_HEAP_VS_CHUNK_HEADER", {
                "EncodedSegmentPageOffset": (piece.offset >> 12) ^ ((chunk_va ^ key) & 0xFF)})
            self.m.write(chunk_va, bytes(header))
            if piece.allocated:
                self._pool_header(chunk_va + VS_CHUNK_HEADER, piece.block,
                                  piece.size - VS_CHUNK_HEADER)
            previous = piece.size // 0x10
