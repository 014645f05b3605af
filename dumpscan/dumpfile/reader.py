"""Read Windows kernel crash dumps: the header and the physical page map.

``open_dump(path)`` parses the header and builds a compact page map; it never modifies
the file (opened read-only) and never builds a per-page Python structure.  Whatever
the DumpType, the map is three sorted numpy arrays describing contiguous stored runs:
first PFN, page count and file offset of the run's first page.  A page lookup is one
``searchsorted``.

DumpTypes: 1 (runs), 5 and 6 (bitmap), 8, 9 and 0xA ('RDMP' page-range list), for 32-bit
('PAGEDUMP') and 64-bit ('PAGEDU64') headers, and 2 (old summary dump, a MODEL layout -
see docs/dump-format.md).  Everything else is refused with a one-line
:class:`~dumpscan.dumpfile.errors.DumpFormatError`.

A dump cut short (file smaller than the header says) still opens when the header and
page map are intact: the pages past the end of the file are absent, and
``CrashDump.warnings`` says how many.  Only when not a single page remains readable is the
file refused.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import reduce
from typing import Iterator

import numpy as np

from . import headers as H
from .errors import DumpFormatError, PageNotPresent

PAGE_SHIFT = 12
# Counts beyond these are refused as absurd: a physical address space over 2**40 bytes
# (1 TiB) is beyond anything this analyzer is meant for.
MAX_PHYS_BYTES = 1 << 40
MAX_PFN = MAX_PHYS_BYTES >> PAGE_SHIFT
# No field of a dump file may place data beyond this offset: its pages describe at most
# MAX_PHYS_BYTES, and its headers and maps are far smaller than the slack.  Every header
# value is checked against these bounds in Python integers *before* any numpy (int64)
# arithmetic, so no header value can overflow or wrap a computation.
MAX_FILE_OFFSET = 2 * MAX_PHYS_BYTES
MAX_RDMP_RANGES = 1 << 22
BITMAP_CHUNK_BYTES = 1 << 20

SUPPORTED_DUMP_TYPES = (1, 2, 5, 6, 8, 9, 0xA)


@dataclass(frozen=True)
class DumpHeader:
    """What the dump header says.  Integer fields still holding the 'PAGE' fill read None."""

    bits: int  # 32 or 64
    machine: str  # "x64" or "x86" (from the header signature 'DU64' / 'DUMP')
    dump_type: int
    summary_signature: str | None  # "SDMP"/"FDMP" (2, 5, 6), "RDMP" (8, 9, 0xA), None (1)
    major_version: int | None
    minor_version: int | None
    dtb: int | None
    pfn_database: int | None
    ps_loaded_module_list: int | None
    ps_active_process_head: int | None
    machine_image_type: int | None
    number_processors: int | None
    bugcheck_code: int | None
    bugcheck_parameters: tuple  # 4 ints (None for unset ones)
    kd_debugger_data_block: int | None
    pae_enabled: bool | None  # 32-bit headers only
    system_time: int | None  # FILETIME
    system_up_time: int | None
    comment: str | None
    context: dict = field(default_factory=dict)  # register -> int; {} when unset
    exception: dict | None = None  # code, flags, record, address, parameters
    physical_memory_runs: list = field(default_factory=list)  # [(base_pfn, page_count)]
    physical_memory_pages: int | None = None  # PhysicalMemoryBlock.NumberOfPages
    required_dump_space: int | None = None
    product_type: int | None = None
    suite_mask: int | None = None


def _unset(value: int, width: int) -> int | None:
    pattern = {8: H.UNSET8, 16: H.UNSET16, 32: H.UNSET32, 64: H.UNSET64}[width]
    return None if value == pattern else int(value)


def _dump_type_name(dump_type: int) -> str:
    return H.DUMP_TYPE_NAMES.get(dump_type, f"unknown DumpType 0x{dump_type:x}")


def _getpath(container, dotted: str):
    return reduce(lambda obj, name: obj[name], dotted.split("."), container)


class _Map:
    """Sorted, non-overlapping stored runs: first PFN, count, file offset (int64 arrays)."""

    __slots__ = ("first", "count", "offset")

    def __init__(self, first, count, offset):
        first = np.asarray(first, dtype=np.int64)
        count = np.asarray(count, dtype=np.int64)
        offset = np.asarray(offset, dtype=np.int64)
        keep = count > 0
        first, count, offset = first[keep], count[keep], offset[keep]
        order = np.argsort(first, kind="stable")
        self.first = first[order]
        self.count = count[order]
        self.offset = offset[order]

    def overlaps(self) -> int | None:
        """First PFN where two runs overlap, or None."""
        if self.first.size < 2:
            return None
        ends = self.first[:-1] + self.count[:-1]
        bad = np.flatnonzero(self.first[1:] < ends)
        return int(self.first[bad[0] + 1]) if bad.size else None

    def total(self) -> int:
        return int(self.count.sum()) if self.count.size else 0


def _runs_from_bitmap(read, nbits: int, first_page: int) -> tuple[_Map, int]:
    """Bitmap (LSB first, bit n = PFN n) -> stored runs.  Bounded memory: chunked."""
    nbytes = (nbits + 7) // 8
    starts: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for byte_off in range(0, nbytes, BITMAP_CHUNK_BYTES):
        chunk = np.frombuffer(read(byte_off, min(BITMAP_CHUNK_BYTES, nbytes - byte_off)), np.uint8)
        if not chunk.any():
            continue
        bits = np.unpackbits(chunk, bitorder="little")
        limit = nbits - byte_off * 8
        if limit < bits.size:
            bits[limit:] = 0  # bits past BitmapSize are not pages
        # Run edges: +1 where a run starts, -1 one past where it ends.
        edges = np.diff(bits.view(np.int8), prepend=np.int8(0), append=np.int8(0))
        s = np.flatnonzero(edges == 1).astype(np.int64)
        if s.size == 0:
            continue
        e = np.flatnonzero(edges == -1).astype(np.int64)
        starts.append(s + byte_off * 8)
        counts.append(e - s)
    if not starts:
        return _Map([], [], []), 0
    s = np.concatenate(starts)
    c = np.concatenate(counts)
    # Merge runs that continue across a chunk boundary.
    if s.size > 1:
        new = np.concatenate(([True], s[1:] != (s[:-1] + c[:-1])))
        heads = np.flatnonzero(new)
        c = np.add.reduceat(c, heads)
        s = s[heads]
    before = np.cumsum(c) - c
    return _Map(s, c, first_page + before * H.PAGE_SIZE), int(c.sum())


def read_main_header(pread, size: int, fail) -> tuple[int, int, object]:
    """(bits, header size, parsed DUMP_HEADER32/64) of a file; ``fail(message)`` makes the
    exception raised for a file that is not a dump.  ``pread(offset, length)`` reads it."""
    magic = pread(0, 8)
    if not magic:
        raise fail("not a Windows kernel crash dump: the file is empty (0 bytes)")
    if len(magic) < 8 or magic[:4] != H.SIGNATURE or magic[4:] not in (H.VALID_DUMP32, H.VALID_DUMP64):
        raise fail(
            f"not a Windows kernel crash dump: expected 'PAGEDUMP' or 'PAGEDU64' at offset 0, found {magic!r}"
        )
    bits = 64 if magic[4:] == H.VALID_DUMP64 else 32
    hsize = H.HEADER_SIZE64 if bits == 64 else H.HEADER_SIZE32
    if size < hsize:
        raise fail(f"truncated header: the file is 0x{size:x} bytes, a {bits}-bit dump header is 0x{hsize:x}")
    con = H.DUMP_HEADER64 if bits == 64 else H.DUMP_HEADER32
    return bits, hsize, con.parse(pread(0, hsize))


def header_record(h, w: int, signature: str | None, phys_runs=(), phys_pages: int | None = None) -> DumpHeader:
    """The :class:`DumpHeader` of a parsed DUMP_HEADER32/64 (``w``: 32 or 64)."""
    comment_raw = bytes(h.Comment)
    if comment_raw == H.PAGE_FILL * (H.COMMENT_SIZE // 4):
        comment = None
    else:
        comment = comment_raw.split(b"\0", 1)[0].decode("latin-1")
    return DumpHeader(
        bits=w,
        machine="x64" if w == 64 else "x86",
        dump_type=int(h.DumpType),
        summary_signature=signature,
        major_version=_unset(h.MajorVersion, 32),
        minor_version=_unset(h.MinorVersion, 32),
        dtb=_unset(h.DirectoryTableBase, w),
        pfn_database=_unset(h.PfnDataBase, w),
        ps_loaded_module_list=_unset(h.PsLoadedModuleList, w),
        ps_active_process_head=_unset(h.PsActiveProcessHead, w),
        machine_image_type=_unset(h.MachineImageType, 32),
        number_processors=_unset(h.NumberProcessors, 32),
        bugcheck_code=_unset(h.BugCheckCode, 32),
        bugcheck_parameters=tuple(_unset(p, w) for p in h.BugCheckParameter),
        kd_debugger_data_block=_unset(h.KdDebuggerDataBlock, w),
        pae_enabled=(None if w == 64 or h.PaeEnabled == H.UNSET8 else bool(h.PaeEnabled)),
        system_time=_unset(h.SystemTime, 64),
        system_up_time=_unset(h.SystemUpTime, 64),
        comment=comment,
        context=decode_context(h.ContextRecord, w),
        exception=decode_exception(h.Exception),
        physical_memory_runs=list(phys_runs),
        physical_memory_pages=phys_pages,
        required_dump_space=_unset(h.RequiredDumpSpace, 64),
        product_type=_unset(h.ProductType, 32),
        suite_mask=_unset(h.SuiteMask, 32),
    )


def decode_context(ctx, bits: int) -> dict:
    """Register -> value of a parsed CONTEXT; {} when ContextFlags is the 'PAGE' fill."""
    if ctx.ContextFlags == H.UNSET32:
        return {}
    names = H.CONTEXT_REGISTERS_AMD64 if bits == 64 else H.CONTEXT_REGISTERS_I386
    return {key: int(_getpath(ctx, path)) for key, path in names.items()}


def decode_exception(exc) -> dict | None:
    """A parsed EXCEPTION_RECORD32/64 as a dict; None when ExceptionCode is the 'PAGE' fill."""
    if exc.ExceptionCode == H.UNSET32:
        return None
    n = min(int(exc.NumberParameters), H.EXCEPTION_MAXIMUM_PARAMETERS)
    return {
        "code": int(exc.ExceptionCode),
        "flags": int(exc.ExceptionFlags),
        "record": int(exc.ExceptionRecord),
        "address": int(exc.ExceptionAddress),
        "parameters": tuple(int(v) for v in exc.ExceptionInformation[:n]),
    }


class CrashDump:
    """An opened crash dump.  Use :func:`open_dump`; usable as a context manager."""

    page_size = H.PAGE_SIZE

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._file = open(self.path, "rb", buffering=0)
        try:
            self._size = os.fstat(self._file.fileno()).st_size
            self._parse()
        except BaseException:
            self._file.close()
            raise

    # -- low-level file access -------------------------------------------------------
    def _pread(self, offset: int, length: int) -> bytes:
        if hasattr(os, "pread"):
            return os.pread(self._file.fileno(), length, offset)
        with self._lock:  # pragma: no cover - platforms without pread
            self._file.seek(offset)
            return self._file.read(length)

    def _fail(self, message: str) -> DumpFormatError:
        return DumpFormatError(self.path, message)

    # -- parsing ---------------------------------------------------------------------
    def _parse(self) -> None:
        bits, hsize, hdr = read_main_header(self._pread, self._size, self._fail)
        self._bits, self._hsize, self._hdr = bits, hsize, hdr

        dump_type = hdr.DumpType
        if dump_type == H.UNSET32:
            raise self._fail("DumpType is not set (still the 'PAGE' fill)")
        if dump_type == H.TRIAGE_DUMP_TYPE:
            raise self._fail(
                f"{_dump_type_name(dump_type)} holds no physical memory pages, only the crash "
                "summary (dumpscan.dumpfile.open_triage reads it)"
            )
        if dump_type not in SUPPORTED_DUMP_TYPES:
            raise self._fail(
                f"unsupported DumpType: {_dump_type_name(dump_type)}; "
                "only 1, 2, 5, 6, 8, 9 and 0xA dumps carry a physical page map"
            )

        phys_runs, phys_pages = self._physical_memory_block(dump_type)
        if dump_type == 1:
            pmap, covered, signature = self._map_type1(phys_runs)
        elif dump_type in (5, 6):
            pmap, covered, signature = self._map_bitmap()
        elif dump_type == 2:
            pmap, covered, signature = self._map_summary2()
        else:
            pmap, covered, signature = self._map_rdmp(dump_type)

        overlap = pmap.overlaps()
        if overlap is not None:
            raise self._fail(f"stored page ranges overlap at PFN 0x{overlap:x}")
        self._map = self._clip_to_file(pmap)
        self.bitmap_pages = covered
        self.pages_present = self._map.total()
        self.header = header_record(self._hdr, self._bits, signature, phys_runs, phys_pages)

    def _physical_memory_block(self, dump_type: int):
        block = self._hdr.PhysicalMemoryBlock
        nruns = block.NumberOfRuns
        limit = H.MAX_RUNS64 if self._bits == 64 else H.MAX_RUNS32
        if nruns == H.UNSET32:
            if dump_type == 1:
                raise self._fail("PhysicalMemoryBlock is not set (NumberOfRuns is the 'PAGE' fill) in a DumpType 1 dump")
            return [], None
        if nruns > limit:
            msg = f"absurd NumberOfRuns {nruns}: at most {limit} runs fit in a {self._bits}-bit header"
            if dump_type == 1:
                raise self._fail(msg)
            self.warnings.append(msg + "; PhysicalMemoryBlock ignored")
            return [], None
        runs = [(int(r.BasePage), int(r.PageCount)) for r in block.Run[:nruns]]
        return runs, _unset(block.NumberOfPages, self._bits)

    def _map_type1(self, runs):
        total = 0
        for index, (base, count) in enumerate(runs):
            if base + count > MAX_PFN:
                raise self._fail(
                    f"absurd PhysicalMemoryBlock.Run[{index}]: BasePage 0x{base:x} + PageCount 0x{count:x} "
                    "reaches beyond 2**40 bytes of physical memory"
                )
            total += count
        if total > MAX_PFN:
            raise self._fail(f"absurd page count: the runs hold {total} pages (over 2**40 bytes)")
        declared = _unset(self._hdr.PhysicalMemoryBlock.NumberOfPages, self._bits)
        if declared is not None and declared != total:
            self.warnings.append(
                f"PhysicalMemoryBlock.NumberOfPages is {declared} but its runs hold {total} pages; the runs are used"
            )
        first = [b for b, _ in runs]
        counts = [c for _, c in runs]
        before = np.cumsum(np.asarray(counts, dtype=np.int64)) - np.asarray(counts, dtype=np.int64)
        offsets = self._hsize + before * H.PAGE_SIZE
        self._expected_end = self._hsize + total * H.PAGE_SIZE
        return _Map(first, counts, offsets), total, None

    def _read_struct(self, con, offset: int, what: str):
        size = con.sizeof()
        if self._size < offset + size:
            raise self._fail(
                f"truncated: the {what} at 0x{offset:x} needs 0x{size:x} bytes, the file is 0x{self._size:x} bytes"
            )
        return con.parse(self._pread(offset, size))

    def _check_bitmap_geometry(self, nbits: int, bitmap_at: int, first_page: int, pages: int):
        if nbits * H.PAGE_SIZE > MAX_PHYS_BYTES:
            raise self._fail(
                f"absurd bitmap size: BitmapSize {nbits} bits would describe {nbits * H.PAGE_SIZE:#x} bytes (over 2**40)"
            )
        if first_page > MAX_FILE_OFFSET:
            raise self._fail(f"absurd bitmap header: HeaderSize (first page offset) 0x{first_page:x} "
                             f"lies beyond any dump file (over 2**41 bytes)")
        bitmap_end = bitmap_at + (nbits + 7) // 8
        if first_page < bitmap_end:
            raise self._fail(
                f"first page offset 0x{first_page:x} lies inside the bitmap (which ends at 0x{bitmap_end:x})"
            )
        if pages > nbits:
            raise self._fail(f"inconsistent bitmap page count: Pages {pages} for a bitmap of {nbits} bits")
        if self._size < bitmap_end:
            raise self._fail(
                f"truncated inside the bitmap (ends at 0x{bitmap_end:x}, the file is 0x{self._size:x} bytes): "
                f"all {pages} pages missing"
            )

    def _bitmap_map(self, nbits: int, bitmap_at: int, first_page: int, pages: int):
        self._check_bitmap_geometry(nbits, bitmap_at, first_page, pages)
        pmap, set_bits = _runs_from_bitmap(
            lambda off, n: self._pread(bitmap_at + off, n), nbits, first_page
        )
        if set_bits != pages:
            raise self._fail(
                f"inconsistent bitmap page count: the header says {pages} pages, the bitmap has {set_bits} bits set"
            )
        self._expected_end = first_page + pages * H.PAGE_SIZE
        return pmap

    def _map_bitmap(self):
        at = self._hsize
        bh = self._read_struct(H.BITMAP_HEADER, at, "bitmap header")
        if bh.Signature not in (H.SUMMARY_SIGNATURE_KERNEL, H.SUMMARY_SIGNATURE_FULL):
            raise self._fail(f"bitmap header signature {bh.Signature!r} at 0x{at:x} is neither 'SDMP' nor 'FDMP'")
        if bh.ValidDump != H.SUMMARY_VALID:
            raise self._fail(f"bitmap header ValidDump {bh.ValidDump!r} at 0x{at + 4:x} is not 'DUMP'")
        pmap = self._bitmap_map(int(bh.BitmapSize), at + H.BITMAP_OFFSET, int(bh.HeaderSize), int(bh.Pages))
        return pmap, int(bh.BitmapSize), bh.Signature.decode("ascii")

    def _map_summary2(self):
        at = self._hsize
        con = H.SUMMARY_DUMP64 if self._bits == 64 else H.SUMMARY_DUMP32
        sh = self._read_struct(con, at, "summary dump header")
        if sh.Signature != H.SUMMARY_SIGNATURE_KERNEL or sh.ValidDump != H.SUMMARY_VALID:
            raise self._fail(
                f"summary dump header at 0x{at:x} reads {sh.Signature!r} {sh.ValidDump!r}, expected 'SDMP' 'DUMP'"
            )
        if sh.SizeOfBitMap != sh.BitmapSize:
            raise self._fail(
                f"inconsistent summary dump header: BitmapSize {sh.BitmapSize} but SizeOfBitMap {sh.SizeOfBitMap}"
            )
        self.warnings.append(
            "DumpType 2 is read with a layout taken from one family of public headers and "
            "checked by no other tool (MODEL, see docs/dump-format.md)"
        )
        pmap = self._bitmap_map(int(sh.BitmapSize), at + con.sizeof(), int(sh.HeaderSize), int(sh.Pages))
        return pmap, int(sh.BitmapSize), "SDMP"

    def _map_rdmp(self, dump_type: int):
        at = self._hsize
        rh = self._read_struct(H.RDMP_HEADER, at, "RDMP header")
        if rh.Marker != H.RDMP_MARKER or rh.Signature != H.RDMP_SIGNATURE or rh.ValidDump != H.SUMMARY_VALID:
            raise self._fail(
                f"RDMP header at 0x{at:x} reads marker 0x{rh.Marker:x} {rh.Signature!r} {rh.ValidDump!r}, "
                "expected 0x40 'RDMP' 'DUMP'"
            )
        first_page = int(rh.FirstPageOffset)
        if first_page != at + H.RDMP_HEADER.sizeof() + rh.MetadataSize:
            raise self._fail(
                f"inconsistent RDMP header: FirstPageOffset 0x{first_page:x} is not "
                f"0x{at + 0x20:x} + MetadataSize 0x{rh.MetadataSize:x}"
            )
        tail_con = H.FULL_RDMP_TAIL if dump_type == 0xA else H.KERNEL_RDMP_TAIL
        tail = self._read_struct(tail_con, at + H.RDMP_HEADER.sizeof(), "RDMP header")
        ranges_at = at + H.RDMP_RANGES_OFFSET
        slots = max(0, (first_page - ranges_at) // H.PFN_RANGE.sizeof())
        if slots > MAX_RDMP_RANGES:
            raise self._fail(f"absurd RDMP MetadataSize 0x{rh.MetadataSize:x} ({slots} range slots)")
        if self._size < ranges_at + slots * 16:
            raise self._fail(
                f"truncated inside the RDMP range list (ends at 0x{ranges_at + slots * 16:x}, "
                f"the file is 0x{self._size:x} bytes): all pages missing"
            )
        table = np.frombuffer(self._pread(ranges_at, slots * 16), dtype="<u8").reshape(-1, 2)
        zero = np.flatnonzero(table[:, 0] == 0)
        if zero.size:  # kdmp-parser stops at the first range with PageFileNumber 0
            table = table[: zero[0]]
        if dump_type == 0xA:
            table = self._rdmp_total_pages(table, tail)
        self._check_rdmp_ranges(table)
        pfns, counts = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)  # all < 2**28 now
        before = np.cumsum(counts) - counts
        total_pages = int(counts.sum())
        self._expected_end = first_page + total_pages * H.PAGE_SIZE
        return _Map(pfns, counts, first_page + before * H.PAGE_SIZE), total_pages, "RDMP"

    def _rdmp_total_pages(self, table: np.ndarray, tail) -> np.ndarray:
        """DumpType 0xA: the ranges up to TotalNumberOfPages (kdmp-parser's walk).  The
        running sum is taken over counts capped just above MAX_PFN, so it cannot wrap."""
        total = int(tail.TotalNumberOfPages)
        cum = np.cumsum(np.minimum(table[:, 1], MAX_PFN + 1).astype(np.int64))
        hit = np.flatnonzero(cum == total)
        if total == 0:
            table = table[:0]
        elif hit.size:
            table = table[: hit[0] + 1]
        elif cum.size and cum[-1] > total:
            crossing = int(np.flatnonzero(cum > total)[0])
            self._check_rdmp_ranges(table[: crossing + 1])  # an absurd range is named first
            raise self._fail(
                f"inconsistent RDMP header: TotalNumberOfPages is {total} but the ranges step over it"
            )
        else:
            self.warnings.append(
                f"RDMP TotalNumberOfPages is {total} but the ranges hold only {int(cum[-1]) if cum.size else 0} pages"
            )
        if tail.NumberOfRanges != len(table):
            self.warnings.append(f"RDMP NumberOfRanges is {tail.NumberOfRanges} but {len(table)} ranges were read")
        return table

    def _check_rdmp_ranges(self, table: np.ndarray) -> None:
        """Every range's PageFileNumber, NumberOfPages and end within 2**40 bytes of
        physical memory, and the sum too: checked on the unsigned values, so nothing wraps."""
        pfns, counts = table[:, 0], table[:, 1]
        for field, values in (("PageFileNumber", pfns), ("NumberOfPages", counts)):
            bad = np.flatnonzero(values > MAX_PFN)
            if bad.size:
                raise self._fail(f"absurd RDMP range {int(bad[0])}: {field} 0x{int(values[bad[0]]):x} "
                                 "reaches beyond 2**40 bytes of physical memory")
        bad = np.flatnonzero(pfns + counts > MAX_PFN)  # both <= 2**28: no overflow
        if bad.size:
            i = int(bad[0])
            raise self._fail(f"absurd RDMP range {i}: PageFileNumber 0x{int(pfns[i]):x} + NumberOfPages "
                             f"0x{int(counts[i]):x} reaches beyond 2**40 bytes of physical memory")
        if int(counts.sum()) > MAX_PFN:
            raise self._fail(f"absurd RDMP range list: its ranges hold {int(counts.sum())} pages (over 2**40 bytes)")

    def _clip_to_file(self, pmap: _Map) -> _Map:
        """Pages whose 4 KiB lie (partly) past the end of the file are absent."""
        expected = pmap.total()
        avail = np.clip((self._size - pmap.offset) // H.PAGE_SIZE, 0, pmap.count)
        clipped = _Map(pmap.first, avail, pmap.offset)
        kept = clipped.total()
        missing = expected - kept
        self.pages_missing = missing
        if missing:
            if kept == 0:
                raise self._fail(
                    f"truncated: all {expected} pages missing (page data should end at "
                    f"0x{self._expected_end:x}, the file is 0x{self._size:x} bytes)"
                )
            self.warnings.append(
                f"file truncated: {missing} of {expected} pages lie past the end of the file "
                f"(0x{self._size:x} bytes, page data should end at 0x{self._expected_end:x}) and are treated as absent"
            )
        return clipped

    # -- page map queries ------------------------------------------------------------
    def _locate(self, pfn: int) -> int:
        """Index of the stored run holding pfn, or -1."""
        m = self._map
        i = int(np.searchsorted(m.first, pfn, side="right")) - 1
        if i < 0 or pfn >= int(m.first[i]) + int(m.count[i]):
            return -1
        return i

    def is_present(self, pfn: int) -> bool:
        return pfn >= 0 and self._locate(int(pfn)) >= 0

    def file_offset(self, pfn: int) -> int:
        """File offset of a present page; PageNotPresent otherwise."""
        i = self._locate(int(pfn)) if pfn >= 0 else -1
        if i < 0:
            raise PageNotPresent(pfn, self.path)
        return int(self._map.offset[i]) + (int(pfn) - int(self._map.first[i])) * H.PAGE_SIZE

    def present_pfns(self) -> np.ndarray:
        """All present PFNs, sorted (int64).  Built on demand from the runs."""
        m = self._map
        total = m.total()
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        steps = np.ones(total, dtype=np.int64)
        heads = np.cumsum(m.count) - m.count
        steps[0] = m.first[0]
        if heads.size > 1:
            steps[heads[1:]] = m.first[1:] - (m.first[:-1] + m.count[:-1]) + 1
        return np.cumsum(steps)

    def iter_runs(self) -> Iterator[tuple[int, int, int]]:
        """(first_pfn, page_count, file_offset) of each contiguous stored run, by PFN."""
        m = self._map
        for first, count, offset in zip(m.first.tolist(), m.count.tolist(), m.offset.tolist()):
            yield first, count, offset

    def read_physical(self, pa: int, length: int) -> bytes:
        """Bytes at physical address pa.  PageNotPresent if any page of the range is absent."""
        if pa < 0 or length < 0:
            raise ValueError("physical address and length must be non-negative")
        out = bytearray()
        pos, end = int(pa), int(pa) + int(length)
        m = self._map
        while pos < end:
            pfn = pos >> PAGE_SHIFT
            i = self._locate(pfn)
            if i < 0:
                raise PageNotPresent(pfn, self.path)
            run_first = int(m.first[i])
            run_end = (run_first + int(m.count[i])) << PAGE_SHIFT
            stop = min(end, run_end)
            off = int(m.offset[i]) + (pos - (run_first << PAGE_SHIFT))
            data = self._pread(off, stop - pos)
            if len(data) != stop - pos:  # the file shrank under us
                raise PageNotPresent((pos + len(data)) >> PAGE_SHIFT, self.path)
            out += data
            pos = stop
        return bytes(out)

    def read_page(self, pfn: int) -> bytes:
        return self.read_physical(int(pfn) << PAGE_SHIFT, H.PAGE_SIZE)

    # -- lifetime --------------------------------------------------------------------
    def close(self) -> None:
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def __enter__(self) -> "CrashDump":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"CrashDump({self.path!r}, {self.header.machine}, DumpType {self.header.dump_type}, "
            f"{self.pages_present} pages)"
        )


def open_dump(path: str | os.PathLike) -> CrashDump:
    """Open a crash dump read-only.  Raises DumpFormatError (one line) if it cannot be read soundly."""
    return CrashDump(path)
