"""Write faithful Windows kernel crash dumps (DumpType 1, 5, 6, 8, 9, 0xA; x64 and x86),
and triage ("small memory") dumps (DumpType 4, :func:`write_triage_dump`).

``write_dump(path, spec, pages)`` streams ``pages`` - (pfn, 4096 bytes) in strictly
increasing PFN order, typically a generator - straight to the file and never holds them.
The header is built last (it records counts known only at the end) and written over the
reserved space at offset 0, so identical input gives a byte-identical file.  The output is
first written to a temporary file next to ``path`` and renamed into place, so a failure
never leaves a half-written dump behind.

Layouts come from :mod:`dumpscan.dumpfile.headers`; docs/dump-format.md lists every field
written, with its source.  Like Windows, the writer first fills the header with 'PAGE' and
then sets fields; fields the spec leaves as ``None`` keep the fill.
"""
from __future__ import annotations

import os
import sys
from array import array
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from . import headers as H

WRITER_DUMP_TYPES = (1, 5, 6, 8, 9, 0xA)
_SHIFT_CHUNK = 4 << 20

# Register defaults for a kernel-mode context (docs/dump-format.md, "CONTEXT defaults").
_CONTEXT_DEFAULTS_AMD64 = {
    "ContextFlags": H.CONTEXT_ALL_AMD64,
    "SegCs": 0x10,
    "SegSs": 0x18,
    "SegDs": 0x2B,
    "SegEs": 0x2B,
    "SegFs": 0x53,
    "SegGs": 0x2B,
    "EFlags": 0x202,
    "MxCsr": 0x1F80,
    "FltSave.ControlWord": 0x27F,
    "FltSave.MxCsr_Mask": 0xFFFF,
}
_CONTEXT_DEFAULTS_I386 = {
    "ContextFlags": H.CONTEXT_ALL_I386,
    "SegCs": 0x08,
    "SegSs": 0x10,
    "SegDs": 0x23,
    "SegEs": 0x23,
    "SegFs": 0x30,
    "SegGs": 0x00,
    "EFlags": 0x202,
    "FloatSave.ControlWord": 0x27F,
    "MxCsr": 0x1F80,
    "ExtendedRegisters.ControlWord": 0x27F,
    "ExtendedRegisters.MxCsr_Mask": 0xFFFF,
}


@dataclass(frozen=True)
class DumpSpec:
    """What to put in the dump header.  ``None`` leaves a field as the 'PAGE' fill."""

    machine: str = "x64"  # "x64" or "x86"
    dump_type: int = 1  # 1, 5, 6, 8, 9 or 0xA
    summary_signature: str | None = None  # 5/6: "SDMP" (default) or "FDMP"; 8/9/0xA: "RDMP"
    major_version: int | None = 0xF
    minor_version: int | None = None  # the build number
    dtb: int | None = None
    pfn_database: int | None = None
    ps_loaded_module_list: int | None = None
    ps_active_process_head: int | None = None
    number_processors: int | None = 1
    bugcheck_code: int | None = None
    bugcheck_parameters: tuple | None = None  # 4 ints
    kd_debugger_data_block: int | None = None
    pae_enabled: bool | None = None  # x86 only
    context: Mapping[str, int] = field(default_factory=dict)
    exception: Mapping | None = None  # code, flags, record, address, parameters
    system_time: int | None = None  # FILETIME
    system_up_time: int | None = None
    comment: str | None = None  # ASCII, at most 127 characters
    physical_memory_runs: tuple = ()  # ((base_pfn, page_count), ...) sorted, disjoint
    product_type: int | None = None
    suite_mask: int | None = None
    bitmap_pages: int | None = None  # bits of a 5/6 bitmap; rounded up to a multiple of 32


def _align(value: int, to: int = H.PAGE_SIZE) -> int:
    return (value + to - 1) // to * to


def _uint(name: str, value, width: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if not 0 <= value < (1 << width):
        raise ValueError(f"{name} = {value:#x} does not fit in {width} bits")
    return value


class _Plan:
    """A validated DumpSpec with everything derived from it."""

    def __init__(self, spec: DumpSpec) -> None:
        if spec.machine not in ("x64", "x86"):
            raise ValueError(f"machine must be 'x64' or 'x86', got {spec.machine!r}")
        if spec.dump_type not in WRITER_DUMP_TYPES + (H.TRIAGE_DUMP_TYPE,):
            raise ValueError(f"dump_type must be one of 1, 4, 5, 6, 8, 9, 0xA, got {spec.dump_type!r}")
        self.spec = spec
        self.bits = 64 if spec.machine == "x64" else 32
        self.hsize = H.HEADER_SIZE64 if self.bits == 64 else H.HEADER_SIZE32
        self.con = H.DUMP_HEADER64 if self.bits == 64 else H.DUMP_HEADER32
        self.ctx_con = H.CONTEXT_AMD64 if self.bits == 64 else H.CONTEXT_I386
        self.exc_con = H.EXCEPTION_RECORD64 if self.bits == 64 else H.EXCEPTION_RECORD32
        w = self.bits

        t = spec.dump_type
        sig = spec.summary_signature
        if t in (5, 6):
            sig = sig or "SDMP"
            if sig not in ("SDMP", "FDMP"):
                raise ValueError(f"summary_signature of a DumpType {t} dump must be 'SDMP' or 'FDMP', got {sig!r}")
        elif t in (1, H.TRIAGE_DUMP_TYPE):
            if sig is not None:
                raise ValueError(f"a DumpType {t} dump has no summary header; summary_signature must be None")
        elif sig not in (None, "RDMP"):
            raise ValueError(f"a DumpType {t} dump has an 'RDMP' header; summary_signature must be None or 'RDMP'")
        self.signature = sig

        for name in ("dtb", "pfn_database", "ps_loaded_module_list", "ps_active_process_head", "kd_debugger_data_block"):
            value = getattr(spec, name)
            if value is not None:
                _uint(name, value, w)
        for name in ("major_version", "minor_version", "number_processors", "bugcheck_code", "product_type", "suite_mask"):
            value = getattr(spec, name)
            if value is not None:
                _uint(name, value, 32)
        for name in ("system_time", "system_up_time"):
            value = getattr(spec, name)
            if value is not None:
                _uint(name, value, 64)
        if spec.bugcheck_parameters is not None:
            params = tuple(spec.bugcheck_parameters)
            if len(params) != 4:
                raise ValueError("bugcheck_parameters must hold exactly 4 values")
            for i, p in enumerate(params):
                _uint(f"bugcheck_parameters[{i}]", p, w)
        if spec.pae_enabled and w == 64:
            raise ValueError("pae_enabled is a field of the 32-bit header only")

        runs = [tuple(r) for r in spec.physical_memory_runs]
        limit = H.MAX_RUNS64 if w == 64 else H.MAX_RUNS32
        if len(runs) > limit:
            raise ValueError(f"{len(runs)} physical memory runs: at most {limit} fit in a {w}-bit header")
        prev_end = -1
        for i, run in enumerate(runs):
            if len(run) != 2:
                raise ValueError(f"physical_memory_runs[{i}] must be (base_pfn, page_count)")
            base, count = (_uint(f"physical_memory_runs[{i}]", v, w) for v in run)
            if count == 0:
                raise ValueError(f"physical_memory_runs[{i}] has no pages")
            if base < prev_end:
                raise ValueError("physical_memory_runs must be sorted by base PFN and must not overlap")
            prev_end = base + count
        self.runs = runs
        self.run_pages = sum(c for _, c in runs)
        if w == 32:
            _uint("total pages of physical_memory_runs", self.run_pages, 32)
        if t == 1 and not runs:
            raise ValueError("a DumpType 1 dump needs physical_memory_runs: its pages are the runs' pages")

        if t in (5, 6):
            nbits = spec.bitmap_pages
            if nbits is None:
                if not runs:
                    raise ValueError("a bitmap dump needs bitmap_pages or physical_memory_runs to size its bitmap")
                nbits = prev_end
            _uint("bitmap_pages", nbits, 64)
            nbits = _align(max(nbits, 1), 32)
            if nbits << 12 > 1 << 40:
                raise ValueError(f"bitmap_pages {nbits} describes more than 2**40 bytes")
            self.nbits = nbits

        self.context = self._context_bytes(spec.context)
        self.exception = self._exception_bytes(spec.exception)
        if spec.comment is not None:
            try:
                raw = spec.comment.encode("ascii")
            except UnicodeEncodeError:
                raise ValueError("comment must be ASCII") from None
            if len(raw) >= H.COMMENT_SIZE or b"\0" in raw:
                raise ValueError(f"comment must be at most {H.COMMENT_SIZE - 1} characters without NUL")
            self.comment = raw.ljust(H.COMMENT_SIZE, b"\0")
        else:
            self.comment = None

    def _context_bytes(self, given: Mapping[str, int]) -> bytes:
        names = H.CONTEXT_REGISTERS_AMD64 if self.bits == 64 else H.CONTEXT_REGISTERS_I386
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise ValueError(f"unknown {self.spec.machine} CONTEXT registers {unknown}; known: {sorted(names)}")
        values = dict(_CONTEXT_DEFAULTS_AMD64 if self.bits == 64 else _CONTEXT_DEFAULTS_I386)
        values.update(given)
        if self.bits == 64 and "FltSave.MxCsr" not in given:
            values["FltSave.MxCsr"] = values["MxCsr"]  # kdmp-parser requires the two to match
        buf = bytearray(self.ctx_con.sizeof())
        for key, value in values.items():
            width = H.size_of(self.ctx_con, names[key]) * 8
            H.put(buf, 0, self.ctx_con, names[key], _uint(f"context[{key!r}]", value, width))
        return bytes(buf)

    def _exception_bytes(self, exc: Mapping | None) -> bytes | None:
        if exc is None:
            return None
        unknown = sorted(set(exc) - {"code", "flags", "record", "address", "parameters"})
        if unknown:
            raise ValueError(f"unknown exception keys {unknown}")
        params = list(exc.get("parameters", ()))
        if len(params) > H.EXCEPTION_MAXIMUM_PARAMETERS:
            raise ValueError(f"at most {H.EXCEPTION_MAXIMUM_PARAMETERS} exception parameters")
        w = self.bits
        record = {
            "ExceptionCode": _uint("exception code", exc.get("code", 0), 32),
            "ExceptionFlags": _uint("exception flags", exc.get("flags", 0), 32),
            "ExceptionRecord": _uint("exception record", exc.get("record", 0), w),
            "ExceptionAddress": _uint("exception address", exc.get("address", 0), w),
            "NumberParameters": len(params),
            "ExceptionInformation": [_uint("exception parameter", p, w) for p in params]
            + [0] * (H.EXCEPTION_MAXIMUM_PARAMETERS - len(params)),
        }
        if w == 64:
            record["UnusedAlignment"] = 0
        return self.exc_con.build(record)

    def header(self, required_dump_space: int) -> bytes:
        spec, con, w = self.spec, self.con, self.bits
        buf = bytearray(H.PAGE_FILL * (self.hsize // 4))

        def put(path, value):
            if value is not None:
                H.put(buf, 0, con, path, value)

        put("Signature", H.SIGNATURE)
        put("ValidDump", H.VALID_DUMP64 if w == 64 else H.VALID_DUMP32)
        put("MajorVersion", spec.major_version)
        put("MinorVersion", spec.minor_version)
        put("DirectoryTableBase", spec.dtb)
        put("PfnDataBase", spec.pfn_database)
        put("PsLoadedModuleList", spec.ps_loaded_module_list)
        put("PsActiveProcessHead", spec.ps_active_process_head)
        put("MachineImageType", H.MACHINE_AMD64 if w == 64 else H.MACHINE_I386)
        put("NumberProcessors", spec.number_processors)
        put("BugCheckCode", spec.bugcheck_code)
        if spec.bugcheck_parameters is not None:
            put("BugCheckParameter", list(spec.bugcheck_parameters))
        put("KdDebuggerDataBlock", spec.kd_debugger_data_block)
        if w == 32 and spec.pae_enabled is not None:
            put("PaeEnabled", int(bool(spec.pae_enabled)))
        if self.runs:
            block = H.offset_of(con, "PhysicalMemoryBlock")
            desc = H.PHYSICAL_MEMORY_DESCRIPTOR64 if w == 64 else H.PHYSICAL_MEMORY_DESCRIPTOR32
            run_con = H.PHYSICAL_MEMORY_RUN64 if w == 64 else H.PHYSICAL_MEMORY_RUN32
            H.put(buf, block, desc, "NumberOfRuns", len(self.runs))
            if w == 64:
                H.put(buf, block, desc, "Padding0", 0)
            H.put(buf, block, desc, "NumberOfPages", self.run_pages)
            run_at = block + H.offset_of(desc, "Run")
            for i, (base, count) in enumerate(self.runs):
                data = run_con.build({"BasePage": base, "PageCount": count})
                buf[run_at + i * len(data) : run_at + (i + 1) * len(data)] = data
        ctx_at = H.offset_of(con, "ContextRecord")
        buf[ctx_at : ctx_at + len(self.context)] = self.context
        if self.exception is not None:
            at = H.offset_of(con, "Exception")
            buf[at : at + len(self.exception)] = self.exception
        put("Comment", self.comment)
        put("DumpType", spec.dump_type)
        put("RequiredDumpSpace", required_dump_space)
        put("SystemTime", spec.system_time)
        put("SystemUpTime", spec.system_up_time)
        put("ProductType", spec.product_type)
        put("SuiteMask", spec.suite_mask)
        return bytes(buf)


def _checked(pages: Iterable) -> Iterable[tuple[int, bytes]]:
    last = -1
    for item in pages:
        try:
            pfn, data = item
        except (TypeError, ValueError):
            raise ValueError(f"pages must yield (pfn, bytes) pairs, got {item!r:.80}") from None
        if isinstance(pfn, bool) or not isinstance(pfn, int) or pfn < 0:
            raise ValueError(f"page PFN must be a non-negative int, got {pfn!r}")
        if pfn <= last:
            raise ValueError(f"pages must come in strictly increasing PFN order: 0x{pfn:x} after 0x{last:x}")
        if memoryview(data).nbytes != H.PAGE_SIZE:
            raise ValueError(f"page 0x{pfn:x} has {memoryview(data).nbytes} bytes, expected {H.PAGE_SIZE}")
        last = pfn
        yield pfn, data


def _write_runs(f, plan: _Plan, pages) -> int:
    """DumpType 1: every page of every run, in run order, at the end of the header."""
    bases = [b for b, _ in plan.runs]
    ends = [b + c for b, c in plan.runs]
    offsets = []
    at = plan.hsize
    for _, count in plan.runs:
        offsets.append(at)
        at += count * H.PAGE_SIZE
    ri = 0
    for pfn, data in _checked(pages):
        while ri < len(ends) and pfn >= ends[ri]:
            ri += 1
        if ri == len(ends) or pfn < bases[ri]:
            raise ValueError(f"page PFN 0x{pfn:x} lies outside every physical memory run of a DumpType 1 dump")
        f.seek(offsets[ri] + (pfn - bases[ri]) * H.PAGE_SIZE)
        f.write(data)
    f.truncate(at)  # pages of a run that were not given read as zeros (a sparse hole)
    return at


def _write_bitmap(f, plan: _Plan, pages) -> int:
    """DumpType 5/6: bitmap header and bitmap after the header, then the given pages."""
    nbits = plan.nbits
    bitmap = bytearray(nbits // 8)
    bitmap_at = plan.hsize + H.BITMAP_OFFSET
    first_page = _align(bitmap_at + len(bitmap))
    f.seek(first_page)
    count = 0
    for pfn, data in _checked(pages):
        if pfn >= nbits:
            raise ValueError(f"page PFN 0x{pfn:x} is beyond the bitmap ({nbits} bits)")
        bitmap[pfn >> 3] |= 1 << (pfn & 7)
        f.write(data)
        count += 1
    end = first_page + count * H.PAGE_SIZE
    head = H.BITMAP_HEADER.build(
        {
            "Signature": plan.signature.encode("ascii"),
            "ValidDump": H.SUMMARY_VALID,
            "DumpOptions": 0,
            "Reserved": bytes(0x14),
            "HeaderSize": first_page,
            "Pages": count,
            "BitmapSize": nbits,
        }
    )
    f.seek(plan.hsize)
    f.write(head + bitmap + bytes(first_page - bitmap_at - len(bitmap)))
    f.truncate(end)
    return end


def _shift(f, start: int, length: int, delta: int) -> None:
    """Move file bytes [start, start+length) forward by delta, last chunk first."""
    pos = length
    while pos > 0:
        n = min(_SHIFT_CHUNK, pos)
        pos -= n
        f.seek(start + pos)
        chunk = f.read(n)
        f.seek(start + pos + delta)
        f.write(chunk)


def _write_rdmp(f, plan: _Plan, pages) -> int:
    """DumpType 8/9/0xA: 'RDMP' header, page-range list, pages in range order (kdmp-parser's layout)."""
    rd_at = plan.hsize
    ranges_at = rd_at + H.RDMP_RANGES_OFFSET
    first_page = rd_at + H.PAGE_SIZE  # provisional; room for 252 ranges and the terminator
    f.seek(first_page)
    ranges = array("Q")  # flat (pfn, count) pairs
    count = 0
    for pfn, data in _checked(pages):
        if pfn == 0:
            raise ValueError(
                "DumpType 8/9/0xA cannot store PFN 0: kdmp-parser takes a range starting at PFN 0 "
                "for the end of the range list"
            )
        if ranges and ranges[-2] + ranges[-1] == pfn:
            ranges[-1] += 1
        else:
            ranges.extend((pfn, 1))
        f.write(data)
        count += 1
    nranges = len(ranges) // 2
    needed = _align(ranges_at + 16 * (nranges + 1))  # always one zero entry after the list
    if needed > first_page:
        _shift(f, first_page, count * H.PAGE_SIZE, needed - first_page)
        first_page = needed
    head = H.RDMP_HEADER.build(
        {
            "Marker": H.RDMP_MARKER,
            "Signature": H.RDMP_SIGNATURE,
            "ValidDump": H.SUMMARY_VALID,
            "Unused": 0,
            "MetadataSize": first_page - (rd_at + H.RDMP_HEADER.sizeof()),
            "FirstPageOffset": first_page,
        }
    )
    if plan.spec.dump_type == 0xA:
        tail = H.FULL_RDMP_TAIL.build(
            {"NumberOfRanges": nranges, "Unknown1": 0, "Unknown2": 0, "TotalNumberOfPages": count}
        )
    else:
        tail = H.KERNEL_RDMP_TAIL.build({"Unknown1": 0, "Unknown2": 0})
    table = ranges.tobytes() if sys.byteorder == "little" else _le(ranges)
    f.seek(rd_at)
    f.write(head + tail + table + bytes(first_page - ranges_at - len(table)))
    end = first_page + count * H.PAGE_SIZE
    f.truncate(end)
    return end


def _le(values: array) -> bytes:  # pragma: no cover - big-endian hosts only
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped.tobytes()


def write_dump(path: str | os.PathLike, spec: DumpSpec, pages: Iterable) -> None:
    """Write a crash dump.  pages: iterable of (pfn, 4096 bytes), strictly increasing PFN."""
    if spec.dump_type == H.TRIAGE_DUMP_TYPE:
        raise ValueError("dump_type 4 is a triage dump, which holds no pages: write it with write_triage_dump")
    plan = _Plan(spec)
    _write_atomically(path, lambda f: _write_paged(f, plan, spec, pages))


def _write_paged(f, plan: _Plan, spec: DumpSpec, pages) -> None:
    f.write(bytes(plan.hsize))  # reserved for the header, written last
    if spec.dump_type == 1:
        end = _write_runs(f, plan, pages)
    elif spec.dump_type in (5, 6):
        end = _write_bitmap(f, plan, pages)
    else:
        end = _write_rdmp(f, plan, pages)
    f.seek(0)
    f.write(plan.header(required_dump_space=end))


def _write_atomically(path: str | os.PathLike, write) -> None:
    """``write(file)`` into ``<path>.partial-<pid>``, renamed into place; removed on failure."""
    path = os.fspath(path)
    tmp = f"{path}.partial-{os.getpid()}"
    try:
        with open(tmp, "w+b") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------------------------------
# DumpType 4: the triage ("small memory") dump
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TriageDriverSpec:
    """One loaded module of a triage dump's driver list."""

    path: str  # the name stored in the string pool (e.g. \\SystemRoot\\system32\\drivers\\x.sys)
    loader_entry: bytes  # the kernel's loader entry of the module, as it is in memory


@dataclass(frozen=True)
class TriageSpec:
    """What a triage dump holds besides the dump header (docs/dump-format.md, DumpType 4)."""

    drivers: tuple[TriageDriverSpec, ...]
    data_blocks: tuple[tuple[int, bytes], ...] = ()  # (kernel virtual address, bytes)
    broken_driver: int | None = None  # index into drivers of the driver that crashed
    service_pack_build: int = 0


def _align8(value: int) -> int:
    return _align(value, 8)


def write_triage_dump(path: str | os.PathLike, spec: DumpSpec, triage: TriageSpec) -> None:
    """Write a triage dump: the header of ``spec`` (DumpType 4), then TRIAGE_DUMP32/64 and
    what it points at, laid out as docs/dump-format.md describes.  Deterministic."""
    if spec.dump_type != H.TRIAGE_DUMP_TYPE:
        raise ValueError(f"write_triage_dump writes DumpType 4, the spec says {spec.dump_type}")
    plan = _Plan(spec)
    body = _triage_body(plan, triage)
    _write_atomically(path, lambda f: f.write(plan.header(required_dump_space=len(body)) + body[plan.hsize:]))


def _triage_body(plan: _Plan, triage: TriageSpec) -> bytes:
    """The whole file after the main header's space (which is left zero here)."""
    w, hsize = plan.bits, plan.hsize
    con = H.TRIAGE_DUMP64 if w == 64 else H.TRIAGE_DUMP32
    entry_prefix = H.DRIVER_ENTRY_LDR_OFFSET[w]
    sizes = {len(d.loader_entry) for d in triage.drivers}
    if not triage.drivers or len(sizes) != 1:
        raise ValueError("a triage dump needs drivers whose loader entries all have one size")
    stride = _align8(entry_prefix + sizes.pop())
    if triage.broken_driver is not None and not 0 <= triage.broken_driver < len(triage.drivers):
        raise ValueError(f"broken_driver {triage.broken_driver} is no index of the driver list")
    out = bytearray(hsize + con.sizeof())
    fields: dict = {sub.name: 0 for sub in con.subcons}
    if w == 64:
        fields["ArchitectureSpecific"] = bytes(16)
    options = H.TRIAGE_DUMP_CONTEXT | H.TRIAGE_DUMP_DRIVER_LIST

    def place(data: bytes) -> int:
        at = _align8(len(out))
        out.extend(bytes(at - len(out)) + data)
        return at

    fields["ContextOffset"] = place(plan.context)
    if plan.exception is not None:
        fields["ExceptionOffset"] = place(plan.exception)
        options |= H.TRIAGE_DUMP_EXCEPTION
    list_at = place(bytes(stride * len(triage.drivers)))
    pool_at = list_at + stride * len(triage.drivers)
    for index, driver in enumerate(triage.drivers):
        text = driver.path.encode("utf-16-le")
        if not text or len(text) // 2 > H.TRIAGE_MAX_NAME_CHARS:
            raise ValueError(f"driver path {driver.path!r} is empty or too long")
        name_at = place((len(text) // 2).to_bytes(4, "little") + text + b"\0\0")
        record = name_at.to_bytes(4, "little") + bytes(entry_prefix - 4) + driver.loader_entry
        at = list_at + index * stride
        out[at:at + len(record)] = record
    fields.update(DriverListOffset=list_at, DriverCount=len(triage.drivers), StringPoolOffset=pool_at,
                  StringPoolSize=_align8(len(out)) - pool_at)
    place(b"")
    if triage.broken_driver is not None:
        fields["BrokenDriverOffset"] = list_at + triage.broken_driver * stride
        options |= H.TRIAGE_DUMP_BROKEN_DRIVER
    if triage.data_blocks:
        block_con = H.TRIAGE_DATA_BLOCK64 if w == 64 else H.TRIAGE_DATA_BLOCK32
        table_at = place(bytes(block_con.sizeof() * len(triage.data_blocks)))
        for index, (address, data) in enumerate(triage.data_blocks):
            _uint("data block address", address, w)
            entry = block_con.build({"Address": address, "Offset": place(bytes(data)), "Size": len(data)})
            at = table_at + index * len(entry)
            out[at:at + len(entry)] = entry
        fields.update(DataBlocksOffset=table_at, DataBlocksCount=len(triage.data_blocks))
        options |= H.TRIAGE_DUMP_DATA_BLOCKS
    end = _align(len(out) + 4)  # the 'DGRT' ULONG closes the dump, as the debugger checks
    out.extend(bytes(end - len(out)))
    out[end - 4:end] = H.TRIAGE_DUMP_VALID
    fields.update(ServicePackBuild=_uint("service_pack_build", triage.service_pack_build, 32),
                  SizeOfDump=end, ValidOffset=end - 4, TriageOptions=options)
    out[hsize:hsize + con.sizeof()] = con.build(fields)
    return bytes(out)
