"""Walk the segment-heap kernel pool (Windows 10 19H1+, Windows 11): every small block.

``nt!ExPoolState`` -> PoolNode[0..NumberOfPools).Heaps[0..3] -> _SEGMENT_HEAP ->
SegContexts[i].SegmentListHead -> _HEAP_PAGE_SEGMENT -> DescArray (range descriptors)
-> LFH subsegments (RangeFlags 0xB: encoded block offsets, allocation bitmap, a
POOL_HEADER per block) and VS subsegments (0xF: encoded chunk headers, the POOL_HEADER
after each allocated chunk's header), decoded with the keys at ``nt!RtlpHpHeapGlobals``.
Facts and their status: ../shared/design/segment-heap-pool.md §1-4, 6 (docs/analysis.md
lists them). Every offset and size comes from the dump's ISF.

Bounded: at most MAX_POOLS nodes, MAX_SEGMENTS segments per context (a cyclic list
stops at the first repeated segment), 256 descriptors per segment, one range read at a
time, VS chunks at most range / 16. Every decode failure is counted by kind
(``PoolBlocks.failures``) and the first few are named in the warnings; the walk goes on
with the next structure, so a corrupt segment costs only its own blocks.
"""
from __future__ import annotations

import numpy as np

from ..symbols.isf import SymbolTableError
from .common import columns, member
from .poolblocks import (BLOCK_DTYPE, LFH, NONPAGED, NONPAGED_NX, PAGED, SESSION, VS, WalkLog)
from .view import PAGE, KernelView, MemoryAbsent

HEAP_SIGNATURE = 0xDDEEDDEE  # §1, V
SEGMENT_SIGNATURE_CONSTANTS = (0xA2E64EADA2E64EAD, 0)  # §2: before / from build 26100
VS_SIGNATURE_KEY = 0x2BED  # §4
RANGE_LFH, RANGE_VS = 0xB, 0xF  # §2 RangeFlags
VS_FIRST_CHUNK = 0x30  # §4
HEAP_POOLS = (NONPAGED, NONPAGED_NX, PAGED, PAGED)  # Heaps[0..3], §1
SESSION_BIT = 0x20  # PoolType bit kept in the 19H1+ header (§6)
MAX_POOLS = 64  # PoolNode has 64 entries
MAX_SEGMENTS = 1 << 16  # per SegContext: 64 GiB of 1 MiB segments
MAX_RANGE_BYTES = 1 << 24  # one subsegment range (a 16 MiB segment at most)


class SegmentHeapWalk:
    def __init__(self, view: KernelView, log: WalkLog) -> None:
        self.view = view
        self.log = log
        self.parts: list[np.ndarray] = []
        off = lambda path: member(view, path.split(".", 1)[0], path.split(".", 1)[1])[0]  # noqa: E731
        self.off = off
        self.header_size = view.layout("_POOL_HEADER").size
        self.descriptor_size = view.layout("_HEAP_PAGE_RANGE_DESCRIPTOR").size
        self.segment_size = view.layout("_HEAP_PAGE_SEGMENT").size
        self.context_size = view.layout("_HEAP_SEG_CONTEXT").size
        globals_va = view.symbol("RtlpHpHeapGlobals")
        self.lfh_pending: list[tuple[int, bytes, list, int]] = []  # (start, data, absent, pool)
        self.lfh_offsets = (off("_HEAP_LFH_SUBSEGMENT.BlockOffsets") + off(
            "_HEAP_LFH_SUBSEGMENT_ENCODED_OFFSETS.EncodedData"), off("_HEAP_LFH_SUBSEGMENT.BlockCount"),
            off("_HEAP_LFH_SUBSEGMENT.BlockBitmap"))
        self.lfh_widths = (member(view, "_HEAP_LFH_SUBSEGMENT_ENCODED_OFFSETS", "EncodedData")[1].size,
                           member(view, "_HEAP_LFH_SUBSEGMENT", "BlockCount")[1].size)
        self.heap_key = view.read_uint(globals_va + off("_RTLP_HP_HEAP_GLOBALS.HeapKey"), 8)
        self.lfh_key = view.read_uint(globals_va + off("_RTLP_HP_HEAP_GLOBALS.LfhKey"), 8)

    # -- roots ----------------------------------------------------------------------------
    def heaps(self) -> list[tuple[int, int]]:
        """(heap VA, Heaps index) of every distinct heap of every pool node."""
        view, off = self.view, self.off
        state = view.symbol("ExPoolState")
        keys_pointer = view.canonical(view.read_pointer(
            state + off("_EX_POOL_HEAP_MANAGER_STATE.HeapManager") + off("_RTLP_HP_HEAP_MANAGER.Globals")))
        if keys_pointer != view.symbol("RtlpHpHeapGlobals"):
            self.log.fail("root", f"pool walk: ExPoolState.HeapManager.Globals is {keys_pointer:#x}, "
                                  f"not nt!RtlpHpHeapGlobals; keys read from the symbol")
        pools = view.read_uint(state + off("_EX_POOL_HEAP_MANAGER_STATE.NumberOfPools"), 4)
        if not 1 <= pools <= MAX_POOLS:
            self.log.fail("root", f"pool walk: ExPoolState.NumberOfPools is {pools}, not 1..{MAX_POOLS}; "
                                  f"node 0 walked only")
            pools = 1
        node_size = view.layout("_EX_HEAP_POOL_NODE").size
        heaps_offset = off("_EX_HEAP_POOL_NODE.Heaps")
        count = view.layout("_EX_HEAP_POOL_NODE").members["Heaps"].count
        seen: dict[int, int] = {}
        for node in range(pools):
            base = state + off("_EX_POOL_HEAP_MANAGER_STATE.PoolNode") + node * node_size + heaps_offset
            for index in range(count):
                heap = view.canonical(view.read_pointer(base + index * view.pointer_size))
                if heap and heap not in seen:
                    seen[heap] = index
        self.log.count("pool_nodes", pools)
        return list(seen.items())

    # -- heaps and segments ------------------------------------------------------------
    def walk_heap(self, heap: int, index: int) -> None:
        view, off = self.view, self.off
        try:
            signature = view.read_uint(heap + off("_SEGMENT_HEAP.Signature"), 4)
        except MemoryAbsent:
            self.log.fail("absent", f"pool walk: heap {heap:#x} is absent from the dump")
            return
        if signature != HEAP_SIGNATURE:
            self.log.fail("heap_signature", f"pool walk: heap {heap:#x} has signature {signature:#x}, "
                                            f"not {HEAP_SIGNATURE:#x}; skipped")
            return
        self.log.count("heaps")
        contexts = view.layout("_SEGMENT_HEAP").members["SegContexts"].count
        for number in range(contexts):
            context = heap + off("_SEGMENT_HEAP.SegContexts") + number * self.context_size
            self.walk_context(context, HEAP_POOLS[min(index, len(HEAP_POOLS) - 1)])

    def walk_context(self, context: int, pool: int) -> None:
        view, off = self.view, self.off
        data = view.read(context, self.context_size)
        unit_shift = data[off("_HEAP_SEG_CONTEXT.UnitShift")]
        first = data[off("_HEAP_SEG_CONTEXT.FirstDescriptorIndex")]
        mask_at = off("_HEAP_SEG_CONTEXT.SegmentMask")
        mask = int.from_bytes(data[mask_at:mask_at + 8], "little")
        head = context + off("_HEAP_SEG_CONTEXT.SegmentListHead")
        flink_offset = off("_LIST_ENTRY.Flink")
        segment = view.canonical(view.read_pointer(head + flink_offset))
        seen: set[int] = set()
        while segment != head:
            if segment in seen:
                self.log.fail("cyclic_list", f"pool walk: segment list of SegContext {context:#x} "
                                             f"returns to segment {segment:#x}; walk stopped there")
                return
            if len(seen) >= MAX_SEGMENTS:
                self.log.fail("bound", f"pool walk: more than {MAX_SEGMENTS} segments in SegContext "
                                       f"{context:#x}; the rest not walked")
                return
            seen.add(segment)
            if segment & ~mask & ((1 << 64) - 1) or not view.in_kernel_space(segment):
                self.log.fail("segment_link", f"pool walk: segment link {segment:#x} in SegContext "
                                              f"{context:#x} is not a segment address; list abandoned")
                return
            try:
                header = view.read(segment, self.segment_size)
            except MemoryAbsent:
                self.log.fail("absent", f"pool walk: segment header {segment:#x} is absent from the "
                                        f"dump; list abandoned")
                return
            try:
                self.walk_segment(segment, header, context, unit_shift, first, pool)
            finally:
                self.flush_lfh()
            segment = view.canonical(int.from_bytes(
                header[flink_offset:flink_offset + view.pointer_size], "little"))

    def walk_segment(self, segment: int, header: bytes, context: int, unit_shift: int,
                     first: int, pool: int) -> None:
        off = self.off
        signature = int.from_bytes(header[off("_HEAP_PAGE_SEGMENT.Signature"):][:8], "little")
        decoded = {(signature ^ segment ^ self.heap_key ^ c) & ((1 << 64) - 1)
                   for c in SEGMENT_SIGNATURE_CONSTANTS}
        if context not in {self.view.canonical(d) for d in decoded}:
            self.log.fail("segment_signature", f"pool walk: segment {segment:#x}: signature does not "
                                               f"decode to its SegContext {context:#x}; segment skipped")
            return
        self.log.count("segments")
        count = len(header) // self.descriptor_size
        desc = columns(self.view, "_HEAP_PAGE_RANGE_DESCRIPTOR",
                       header[off("_HEAP_PAGE_SEGMENT.DescArray"):], count, ["RangeFlags", "UnitSize"])
        flags, sizes = desc["RangeFlags"].tolist(), desc["UnitSize"].tolist()
        if not any(flags[first:]) and not any(sizes[first:]):
            self.log.fail("descriptors", f"pool walk: segment {segment:#x}: every range descriptor is "
                                         f"zero (lost or zero-filled page); segment skipped")
            return
        unit = first
        while unit < count:
            units = sizes[unit] or 1
            if flags[unit] in (RANGE_LFH, RANGE_VS):
                if unit + units > count:
                    self.log.fail("descriptors", f"pool walk: segment {segment:#x}: range at unit "
                                                 f"{unit} runs past the segment end; rest skipped")
                    return
                start = segment + (unit << unit_shift)
                self.walk_range(start, units << unit_shift, flags[unit], pool)
            unit += units

    # -- subsegments -----------------------------------------------------------------------
    def walk_range(self, start: int, length: int, flags: int, pool: int) -> None:
        if length > MAX_RANGE_BYTES:
            self.log.fail("bound", f"pool walk: range {start:#x} of {length:#x} bytes is too large; skipped")
            return
        data, absent = self.view.read_pages(start, length)
        if absent:
            self.log.count("pages_absent", sum(-(-(j - i) // PAGE) for i, j in absent))
        if absent and absent[0][0] == 0:
            self.log.fail("absent", f"pool walk: subsegment {start:#x} header is absent from the dump")
            return
        if flags == RANGE_LFH:
            self.log.count("lfh_subsegments")
            self.lfh_pending.append((start, bytes(data), absent, pool))
        else:
            self.log.count("vs_subsegments")
            self.walk_vs(start, bytes(data), absent, pool)

    def _headers(self, data: bytes, offsets: np.ndarray) -> dict[str, np.ndarray]:
        size = self.header_size
        raw = np.frombuffer(data, np.uint8)[offsets[:, None] + np.arange(size)]
        values = columns(self.view, "_POOL_HEADER", raw.tobytes(), len(offsets),
                         ["BlockSize", "PoolType", "PoolTag"])
        values["nonzero"] = raw[:, :8].any(axis=1)
        return values

    def flush_lfh(self) -> None:
        """Decode the LFH subsegments read so far, all in one numpy pass (§3): the encoded
        offsets with both salts (builds before / from 26100), the bitmaps' busy bits and
        every block's POOL_HEADER."""
        items, self.lfh_pending = self.lfh_pending, []
        if not items:
            return
        enc_at, count_at, bitmap_at = self.lfh_offsets
        n = len(items)
        starts = np.array([item[0] for item in items], np.uint64)
        lengths = np.array([len(item[1]) for item in items], np.int64)
        blob = np.frombuffer(b"".join(item[1] for item in items), np.uint8)
        base = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        encoded = _gather_uint(blob, base + enc_at, self.lfh_widths[0])
        declared = _gather_uint(blob, base + count_at, self.lfh_widths[1]).astype(np.int64)
        key = np.uint64(self.lfh_key & 0xFFFFFFFF)
        block_size = np.zeros(n, np.int64)
        first = np.zeros(n, np.int64)
        decoded = np.zeros(n, bool)
        for salt in ((starts & np.uint64(0xFFFFFFFF)) >> np.uint64(12),
                     (starts >> np.uint64(12)) & np.uint64(0xFFFFFFFF)):
            value = (encoded ^ key ^ salt).astype(np.int64)
            size, offset = value & 0xFFFF, value >> 16
            valid = ~decoded & (size >= self.header_size) & (size % 16 == 0) & (offset > bitmap_at) \
                & (offset < lengths)
            block_size[valid], first[valid] = size[valid], offset[valid]
            decoded |= valid
        for i in np.flatnonzero(~decoded).tolist():
            self.log.fail("lfh_offsets", f"pool walk: LFH subsegment {int(starts[i]):#x}: block offsets do "
                                         f"not decode with LfhKey (corrupt or wrong key); subsegment skipped")
        count = np.where(decoded, np.minimum(declared, (lengths - first) // np.maximum(block_size, 1)), 0)
        for i in np.flatnonzero(decoded & (declared > count)).tolist():
            self.log.fail("lfh_count", f"pool walk: LFH subsegment {int(starts[i]):#x}: BlockCount "
                                       f"{int(declared[i])} exceeds the range; {int(count[i])} blocks walked")
        total = int(count.sum())
        if not total:
            return
        sub = np.repeat(np.arange(n), count)
        k = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        inside = first[sub] + k * block_size[sub]
        bit = 2 * k
        busy = ((blob[base[sub] + bitmap_at + (bit >> 3)] >> (bit & 7).astype(np.uint8)) & 1).astype(bool)
        present = np.ones(total, bool)
        for i, (_, _, absent, _) in enumerate(items):
            if absent:
                mine = sub == i
                for lo, hi in absent:
                    present[mine] &= ~((inside[mine] + block_size[i] > lo) & (inside[mine] < hi))
        raw = blob[(base[sub] + inside)[:, None] + np.arange(self.header_size)]
        values = columns(self.view, "_POOL_HEADER", raw.tobytes(), total, ["BlockSize", "PoolType", "PoolTag"])
        keep = present & (busy | raw[:, :8].any(axis=1))
        wrong = keep & (values["BlockSize"].astype(np.int64) * 16 != block_size[sub])
        for i in np.unique(sub[wrong]).tolist():
            bad = int((wrong & (sub == i)).sum())
            self.log.fail("lfh_header", f"pool walk: LFH subsegment {int(starts[i]):#x}: {bad} block header(s) "
                                        f"disagree with the block size {int(block_size[i]):#x}; those blocks "
                                        f"skipped", bad)
        keep &= ~wrong
        self.log.count("blocks_absent", int((~present).sum()))
        pools = np.array([item[3] for item in items], np.uint8)[sub[keep]]
        self._add(starts[sub[keep]], inside[keep] + self.header_size, block_size[sub[keep]], values,
                  keep, busy[keep], pools, LFH)

    def walk_vs(self, start: int, data: bytes, absent, pool: int) -> None:
        values = columns(self.view, "_HEAP_VS_SUBSEGMENT", data, 1, ["Size", "Signature"])
        size, signature = int(values["Size"][0]), int(values["Signature"][0])
        if (size ^ signature ^ VS_SIGNATURE_KEY) & 0x7FFF:
            self.log.fail("vs_signature", f"pool walk: VS subsegment {start:#x}: signature check fails; "
                                          f"subsegment skipped")
            return
        length = len(data)
        words = np.frombuffer(data, "<u8")
        key = self.heap_key
        offsets: list[int] = []
        sizes: list[int] = []
        offset, previous = VS_FIRST_CHUNK, 0
        absent_at = [(i, j) for i, j in absent]
        while offset + 0x10 <= length:
            if any(i <= offset < j for i, j in absent_at):
                self.log.fail("absent", f"pool walk: VS subsegment {start:#x}: chunk header at "
                                        f"+{offset:#x} is absent from the dump; rest of the subsegment skipped")
                break
            bits = int(words[offset // 8]) ^ ((start + offset) & ((1 << 64) - 1)) ^ key
            units, prev_units, allocated = (bits >> 16) & 0xFFFF, (bits >> 32) & 0xFFFF, (bits >> 48) & 0xFF
            chunk = units * 16
            if chunk < 0x20 or offset + chunk > length or prev_units != previous:
                self.log.fail("vs_header", f"pool walk: VS subsegment {start:#x}: chunk header at "
                                           f"+{offset:#x} does not decode with HeapKey; rest of the "
                                           f"subsegment skipped")
                break
            if allocated:
                offsets.append(offset)
                sizes.append(chunk)
            else:
                self.log.count("vs_free_chunks")
            previous, offset = units, offset + chunk
        if not offsets:
            return
        chunk_at = np.array(offsets, np.int64)
        chunk_size = np.array(sizes, np.int64)
        values = self._headers(data, chunk_at + 0x10)
        keep = values["BlockSize"].astype(np.int64) * 16 == chunk_size - 0x10
        if not keep.all():
            bad = int((~keep).sum())
            self.log.fail("vs_pool_header", f"pool walk: VS subsegment {start:#x}: {bad} POOL_HEADER(s) "
                                            f"disagree with their chunk size; those blocks skipped", bad)
        self._add(start, chunk_at[keep] + 0x10 + self.header_size, chunk_size[keep] - 0x10, values,
                  keep, np.ones(int(keep.sum()), bool), pool, VS)

    def _add(self, start: int | np.ndarray, offsets: np.ndarray, sizes, values: dict, keep: np.ndarray,
             allocated: np.ndarray, pool: int | np.ndarray, source: int) -> None:
        """Blocks at ``start + offsets`` (caller VAs) with their POOL_HEADER ``values``;
        ``start`` and ``pool`` are one per subsegment or one per block."""
        out = np.zeros(len(offsets), BLOCK_DTYPE)
        out["address"] = np.asarray(start, np.uint64) + offsets.astype(np.uint64)
        out["size"] = sizes
        out["key"] = values["PoolTag"][keep]
        session = allocated & ((values["PoolType"][keep] & np.uint64(SESSION_BIT)) != 0)
        out["pool"] = np.where(session, SESSION, pool)
        out["paged"] = pool == PAGED
        out["allocated"] = allocated
        out["source"] = source
        self.parts.append(out)


def _gather_uint(blob: np.ndarray, positions: np.ndarray, width: int) -> np.ndarray:
    """The little-endian ``width``-byte integers of ``blob`` at ``positions`` (uint64)."""
    raw = blob[positions[:, None] + np.arange(width)].astype(np.uint64)
    return (raw << (np.arange(width, dtype=np.uint64) * np.uint64(8))).sum(axis=1, dtype=np.uint64)


def walk_segment_heap(view: KernelView, log: WalkLog) -> list[np.ndarray]:
    """Every small block of the segment-heap pool (BLOCK_DTYPE parts)."""
    try:
        walk = SegmentHeapWalk(view, log)
        heaps = walk.heaps()
    except (MemoryAbsent, SymbolTableError) as exc:
        log.fail("root", f"pool walk: cannot read the pool roots ({exc})")
        return []
    for heap, index in heaps:
        try:
            walk.walk_heap(heap, index)
        except MemoryAbsent as exc:
            log.fail("absent", f"pool walk: heap {heap:#x}: {exc}")
    return walk.parts


def is_segment_heap(view: KernelView) -> bool:
    """The kernel's symbols describe a segment-heap pool (19H1+)."""
    return view.has_symbol("ExPoolState") and view.has_symbol("RtlpHpHeapGlobals") \
        and view.has_type("_SEGMENT_HEAP")
