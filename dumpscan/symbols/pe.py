"""The CodeView (RSDS) record of a loaded PE image: which PDB its symbols are in.

Layouts from Microsoft's "PE Format" specification: e_lfanew at 0x3C; the optional
header follows the 24-byte 'PE\\0\\0' + COFF header; the debug data directory is entry 6
(at optional-header offset 0xA0 for PE32+ (Magic 0x20B), 0x90 for PE32 (0x10B));
a debug directory entry is 28 bytes with Type (2 = CODEVIEW) at +12, SizeOfData at +16
and AddressOfRawData at +20; the RSDS record is 'RSDS', GUID (16), Age (4), PDB path.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass


class CodeViewError(Exception):
    """The image has no readable CodeView record."""


@dataclass(frozen=True)
class PdbIdentity:
    name: str  # the PDB file name, e.g. "ntkrnlmp.pdb"
    guid: str  # 32 upper-case hex digits, as symbol servers spell it
    age: int

    def __str__(self) -> str:
        return f"{self.name} {self.guid}-{self.age}"


def guid_text(raw: bytes) -> str:
    data1, data2, data3 = struct.unpack_from("<IHH", raw)
    return f"{data1:08X}{data2:04X}{data3:04X}{raw[8:16].hex().upper()}"


def read_codeview(read: Callable[[int, int], bytes], base: int) -> PdbIdentity:
    """Read the RSDS record of the image loaded at ``base`` (``read`` may raise)."""
    try:
        if read(base, 2) != b"MZ":
            raise CodeViewError(f"no MZ header at {base:#x}")
        e_lfanew = struct.unpack("<I", read(base + 0x3C, 4))[0]
        nt = base + e_lfanew
        if read(nt, 4) != b"PE\0\0":
            raise CodeViewError(f"no PE header at {nt:#x}")
        optional = nt + 24
        magic = struct.unpack("<H", read(optional, 2))[0]
        directory = optional + (0xA0 if magic == 0x20B else 0x90)
        rva, size = struct.unpack("<II", read(directory, 8))
        for entry in range(rva, rva + min(size, 28 * 16), 28):
            kind, data_size, data_rva = struct.unpack("<III", read(base + entry + 12, 12))
            if kind != 2 or data_size < 24:
                continue
            record = read(base + data_rva, min(data_size, 0x200))
            if record[:4] != b"RSDS":
                continue
            age = struct.unpack_from("<I", record, 20)[0]
            name = record[24:].split(b"\0", 1)[0].decode("ascii", "replace")
            return PdbIdentity(name.rsplit("\\", 1)[-1], guid_text(record[4:20]), age)
    except CodeViewError:
        raise
    except Exception as exc:  # absent pages, truncated structures
        raise CodeViewError(f"cannot read the CodeView record of the image at {base:#x}: {exc}") from None
    raise CodeViewError(f"the image at {base:#x} has no CodeView (RSDS) debug record")
