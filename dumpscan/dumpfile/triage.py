"""Read triage ("small memory", DumpType 4) dumps: the crash summary Windows writes by default.

A triage dump holds no physical memory pages, hence no pool tables: only the dump header
(bug check, context, exception), the triage header (``TRIAGE_DUMP32/64``) and what it
points at: the loaded-driver list with its string pool, and data blocks (ranges of kernel
virtual memory saved with the dump).  ``open_triage(path)`` reads all of it with bounded
work: every offset and count is checked against the file before it is used; a problem
with the driver list or the data blocks is a warning (the header still reads), a file
that is not a sound triage dump is a one-line :class:`DumpFormatError`.

Layouts and sources: :mod:`dumpscan.dumpfile.headers` and docs/dump-format.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import headers as H
from .errors import DumpFormatError
from .reader import DumpHeader, header_record, read_main_header

MAX_TRIAGE_FILE = 64 << 20  # real ones are 64 KiB to a few MiB: read whole, bounded


@dataclass(frozen=True)
class TriageDriver:
    """One DUMP_DRIVER_ENTRY: a module loaded when the system crashed."""

    name: str  # the file name (last component of the string-pool name)
    path: str  # the name as the string pool holds it
    base: int  # LdrEntry.DllBase
    size: int  # LdrEntry.SizeOfImage
    timestamp: int | None  # LdrEntry.TimeDateStamp where the entry's layout is known


@dataclass(frozen=True)
class DataBlock:
    """A range of kernel virtual memory saved in the dump (TRIAGE_DATA_BLOCK)."""

    address: int
    offset: int  # in the file
    size: int


@dataclass
class TriageDump:
    """What a triage dump says.  ``warnings``: one line each."""

    path: str
    header: DumpHeader
    service_pack_build: int
    size_of_dump: int
    triage_options: int
    drivers: list[TriageDriver] = field(default_factory=list)
    broken_driver: TriageDriver | None = None  # BrokenDriverOffset's entry, when set
    data_blocks: list[DataBlock] = field(default_factory=list)
    driver_entry_size: int | None = None
    warnings: list[str] = field(default_factory=list)
    _data: bytes = field(default=b"", repr=False)

    def read_virtual(self, address: int, length: int) -> bytes | None:
        """Bytes at a kernel virtual address when one data block holds all of them, else None."""
        for block in self.data_blocks:
            if block.address <= address and address + length <= block.address + block.size:
                start = block.offset + (address - block.address)
                return self._data[start:start + length]
        return None

    def read_unicode_string(self, address: int) -> str | None:
        """The text of a UNICODE_STRING at ``address`` when the data blocks hold it and its buffer."""
        con = H.UNICODE_STRING64 if self.header.bits == 64 else H.UNICODE_STRING32
        raw = self.read_virtual(address, con.sizeof())
        if raw is None:
            return None
        string = con.parse(raw)
        if string.Length % 2 or string.Length > string.MaximumLength:
            return None
        text = self.read_virtual(string.Buffer, string.Length) if string.Length else b""
        return None if text is None else text.decode("utf-16-le", "replace")


def is_triage_dump(path: str | os.PathLike) -> bool:
    """True when ``path`` is a regular file starting with a crash-dump header whose DumpType
    is 4 (two small reads)."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as handle:
            magic = handle.read(8)
            if magic[:4] != H.SIGNATURE or magic[4:] not in (H.VALID_DUMP32, H.VALID_DUMP64):
                return False
            con = H.DUMP_HEADER64 if magic[4:] == H.VALID_DUMP64 else H.DUMP_HEADER32
            handle.seek(H.offset_of(con, "DumpType"))
            return int.from_bytes(handle.read(4), "little") == H.TRIAGE_DUMP_TYPE
    except OSError:
        return False


def open_triage(path: str | os.PathLike) -> TriageDump:
    """Read a triage dump.  DumpFormatError (one line) when it is not a sound one."""
    path = os.fspath(path)
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_TRIAGE_FILE:
            raise DumpFormatError(path, f"a {size}-byte file is no triage dump (those are at most "
                                        f"{MAX_TRIAGE_FILE >> 20} MiB)")
        data = handle.read()
    return _TriageReader(path, data).read()


class _TriageReader:
    def __init__(self, path: str, data: bytes) -> None:
        self.path, self.data = path, data
        self.warnings: list[str] = []

    def fail(self, message: str) -> DumpFormatError:
        return DumpFormatError(self.path, message)

    def pread(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]

    def within(self, offset: int, length: int) -> bool:
        return 0 <= offset and offset + length <= len(self.data)

    def read(self) -> TriageDump:
        bits, hsize, hdr = read_main_header(self.pread, len(self.data), self.fail)
        if hdr.DumpType != H.TRIAGE_DUMP_TYPE:
            raise self.fail(f"DumpType is {hdr.DumpType}, not a triage dump (4)")
        self.bits = bits
        con = H.TRIAGE_DUMP64 if bits == 64 else H.TRIAGE_DUMP32
        if not self.within(hsize, con.sizeof()):
            raise self.fail(f"truncated: the triage header at 0x{hsize:x} needs 0x{con.sizeof():x} bytes, "
                            f"the file is 0x{len(self.data):x} bytes")
        th = con.parse(self.pread(hsize, con.sizeof()))
        self.check_valid(th)
        triage = TriageDump(self.path, header_record(hdr, bits, None), int(th.ServicePackBuild),
                            int(th.SizeOfDump), int(th.TriageOptions), _data=self.data)
        triage.data_blocks = self.data_blocks(th)
        entries = self.driver_entries(th)
        if entries is not None:
            triage.driver_entry_size, offsets = entries
            triage.drivers = [d for d in (self.driver(at, triage.driver_entry_size, index)
                                          for index, at in enumerate(offsets)) if d is not None]
            triage.broken_driver = self.broken_driver(th, offsets, triage.driver_entry_size)
        triage.warnings = self.warnings
        return triage

    # -- validity ----------------------------------------------------------------------
    def check_valid(self, th) -> None:
        valid = int(th.ValidOffset)
        if not self.within(valid, 4):
            raise self.fail(f"triage header: ValidOffset 0x{valid:x} lies beyond the end of the file "
                            f"(0x{len(self.data):x} bytes)")
        if self.pread(valid, 4) != H.TRIAGE_DUMP_VALID:
            raise self.fail(f"triage header: no 'DGRT' signature at ValidOffset 0x{valid:x} "
                            f"(found {self.pread(valid, 4)!r}); not a complete triage dump")
        if th.SizeOfDump != len(self.data):
            self.warnings.append(f"triage header: SizeOfDump is 0x{th.SizeOfDump:x} but the file is "
                                 f"0x{len(self.data):x} bytes")

    # -- data blocks -------------------------------------------------------------------
    def data_blocks(self, th) -> list[DataBlock]:
        count, at = int(th.DataBlocksCount), int(th.DataBlocksOffset)
        if not count or not th.TriageOptions & H.TRIAGE_DUMP_DATA_BLOCKS:
            return []
        con = H.TRIAGE_DATA_BLOCK64 if self.bits == 64 else H.TRIAGE_DATA_BLOCK32
        if count > H.TRIAGE_MAX_DATA_BLOCKS or not self.within(at, count * con.sizeof()):
            self.warnings.append(f"triage header: {count} data blocks at 0x{at:x} do not fit in the file; "
                                 "data blocks ignored")
            return []
        blocks = []
        for index in range(count):
            block = con.parse(self.pread(at + index * con.sizeof(), con.sizeof()))
            if not self.within(int(block.Offset), int(block.Size)):
                self.warnings.append(f"triage data block {index} (0x{block.Size:x} bytes at file offset "
                                     f"0x{block.Offset:x}) lies beyond the end of the file; ignored")
                continue
            blocks.append(DataBlock(int(block.Address), int(block.Offset), int(block.Size)))
        return blocks

    # -- the driver list ---------------------------------------------------------------
    def driver_entries(self, th) -> tuple[int, list[int]] | None:
        """(record size, file offset of each DUMP_DRIVER_ENTRY), or None (with a warning).

        The record embeds the kernel's own loader entry, whose size changes between
        Windows versions; the string pool follows the list [MODEL], so the record size
        is the distance from the list to the pool divided by the count."""
        count, at = int(th.DriverCount), int(th.DriverListOffset)
        pool, pool_size = int(th.StringPoolOffset), int(th.StringPoolSize)
        if not th.TriageOptions & H.TRIAGE_DUMP_DRIVER_LIST or count == 0:
            self.warnings.append("the triage dump holds no driver list (TriageOptions says none)")
            return None
        prefix = (H.DUMP_DRIVER_ENTRY64 if self.bits == 64 else H.DUMP_DRIVER_ENTRY32).sizeof()
        problem = None
        if count > H.TRIAGE_MAX_DRIVERS:
            problem = f"DriverCount {count} is absurd (at most {H.TRIAGE_MAX_DRIVERS})"
        elif not self.within(pool, pool_size):
            problem = f"the string pool (0x{pool_size:x} bytes at 0x{pool:x}) lies beyond the end of the file"
        elif pool <= at or (pool - at) % count or (pool - at) // count < prefix:
            problem = (f"the driver list at 0x{at:x} ({count} entries) and the string pool at 0x{pool:x} "
                       "do not give a whole entry size")
        if problem:
            self.warnings.append(f"triage header: {problem}; driver list not read")
            return None
        stride = (pool - at) // count
        self.pool = (pool, pool + pool_size)
        return stride, [at + i * stride for i in range(count)]

    def driver(self, at: int, stride: int, index: int) -> TriageDriver | None:
        con = H.DUMP_DRIVER_ENTRY64 if self.bits == 64 else H.DUMP_DRIVER_ENTRY32
        entry = con.parse(self.pread(at, con.sizeof()))
        path = self.dump_string(int(entry.DriverNameOffset))
        if path is None:
            self.warnings.append(f"triage driver entry {index}: DriverNameOffset 0x{entry.DriverNameOffset:x} "
                                 "is no string of the string pool; entry skipped")
            return None
        stamp_at = H.DRIVER_ENTRY_TIMESTAMP.get((self.bits, stride))
        timestamp = int.from_bytes(self.pread(at + stamp_at, 4), "little") if stamp_at else None
        name = path.replace("/", "\\").rsplit("\\", 1)[-1]
        return TriageDriver(name, path, int(entry.DllBase), int(entry.SizeOfImage), timestamp)

    def dump_string(self, at: int) -> str | None:
        """A DUMP_STRING inside the string pool, or None."""
        start, end = self.pool
        if not (start <= at and at + 4 <= end):
            return None
        chars = int.from_bytes(self.pread(at, 4), "little")
        if chars == 0 or chars > H.TRIAGE_MAX_NAME_CHARS or at + 4 + 2 * chars > end:
            return None
        return self.pread(at + 4, 2 * chars).decode("utf-16-le", "replace")

    def broken_driver(self, th, offsets: list[int], stride: int) -> TriageDriver | None:
        at = int(th.BrokenDriverOffset)
        if not at or not th.TriageOptions & H.TRIAGE_DUMP_BROKEN_DRIVER:
            return None
        if at not in offsets:
            self.warnings.append(f"triage header: BrokenDriverOffset 0x{at:x} is no entry of the driver list")
            return None
        return self.driver(at, stride, offsets.index(at))
