"""PE image headers with a CodeView (RSDS) debug record, as loaded in memory.

Layouts from Microsoft's "PE Format" specification (learn.microsoft.com/windows/win32/debug/pe-format):
MS-DOS header (e_magic 'MZ', e_lfanew at 0x3C), 'PE\\0\\0', COFF file header (20 bytes),
optional header PE32+ (Magic 0x20B, 240 bytes with 16 data directories) or PE32 (0x10B,
224 bytes), section headers (40 bytes), debug directory entries (28 bytes, Type 2 =
IMAGE_DEBUG_TYPE_CODEVIEW). The RSDS record {'RSDS', GUID, Age, PDB path} is the
CodeView 7.0 record debuggers and Volatility3 (automagic/pdbscan.py) key symbols on.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

IMAGE_FILE_MACHINE = {"x64": 0x8664, "x86": 0x14C}
IMAGE_DIRECTORY_ENTRY_DEBUG = 6
IMAGE_DEBUG_TYPE_CODEVIEW = 2
IMAGE_SUBSYSTEM_NATIVE = 1
SCN_CODE = 0x60000020  # CNT_CODE | MEM_EXECUTE | MEM_READ
SCN_DATA = 0xC0000040  # CNT_INITIALIZED_DATA | MEM_READ | MEM_WRITE

_E_LFANEW = 0xF0
_DEBUG_DIRECTORY_OFFSET = 0x600  # after a section table of up to 30 sections
_RSDS_OFFSET = 0x620


@dataclass(frozen=True)
class Section:
    name: str
    rva: int
    size: int
    characteristics: int


def guid_bytes(guid: str) -> bytes:
    """A GUID in the 32-hex-digit form symbol servers use -> its 16 stored bytes
    (Data1 u32, Data2 u16, Data3 u16 little-endian, then Data4 as is)."""
    raw = bytes.fromhex(guid)
    data1, data2, data3 = struct.unpack(">IHH", raw[:8])
    return struct.pack("<IHH", data1, data2, data3) + raw[8:]


def rsds_record(guid: str, age: int, pdb_name: str) -> bytes:
    return b"RSDS" + guid_bytes(guid) + struct.pack("<I", age) + pdb_name.encode() + b"\0"


def build_headers(*, machine: str, image_base: int, image_size: int, sections: list[Section],
                  timestamp: int, os_version: tuple[int, int], entry_point: int,
                  guid: str, age: int, pdb_name: str, dll: bool = False) -> bytes:
    """The first page of a loaded image: DOS, NT and section headers, debug directory, RSDS."""
    page = bytearray(0x1000)
    struct.pack_into("<2s", page, 0, b"MZ")
    struct.pack_into("<I", page, 0x3C, _E_LFANEW)
    pe64 = machine == "x64"
    optional_size = 0xF0 if pe64 else 0xE0
    characteristics = 0x0022 if pe64 else 0x0102  # EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE / 32BIT_MACHINE
    if dll:
        characteristics |= 0x2000
    struct.pack_into("<4sHHIIIHH", page, _E_LFANEW, b"PE\0\0", IMAGE_FILE_MACHINE[machine],
                     len(sections), timestamp, 0, 0, optional_size, characteristics)
    opt = _E_LFANEW + 24
    code_size = sum(s.size for s in sections if s.characteristics == SCN_CODE)
    data_size = sum(s.size for s in sections if s.characteristics != SCN_CODE)
    base_of_code = min((s.rva for s in sections if s.characteristics == SCN_CODE), default=0)
    struct.pack_into("<HBBIIIII", page, opt, 0x20B if pe64 else 0x10B, 14, 20, code_size,
                     data_size, 0, entry_point, base_of_code)
    if pe64:
        struct.pack_into("<Q", page, opt + 0x18, image_base)
    else:
        struct.pack_into("<II", page, opt + 0x18, 0, image_base)
    struct.pack_into("<IIHHHHHHIIII", page, opt + 0x20, 0x1000, 0x200, os_version[0],
                     os_version[1], os_version[0], os_version[1], os_version[0],
                     os_version[1], 0, image_size, 0x1000, 0)
    struct.pack_into("<HH", page, opt + 0x44, IMAGE_SUBSYSTEM_NATIVE, 0x4160 if pe64 else 0x0540)
    if pe64:
        struct.pack_into("<QQQQII", page, opt + 0x48, 0x80000, 0x1000, 0x100000, 0x1000, 0, 16)
        directories = opt + 0x70
    else:
        struct.pack_into("<IIIIII", page, opt + 0x48, 0x80000, 0x1000, 0x100000, 0x1000, 0, 16)
        directories = opt + 0x60
    struct.pack_into("<II", page, directories + 8 * IMAGE_DIRECTORY_ENTRY_DEBUG,
                     _DEBUG_DIRECTORY_OFFSET, 28)
    table = opt + optional_size
    for index, section in enumerate(sections):
        struct.pack_into("<8sIIIIIIHHI", page, table + 40 * index, section.name.encode(),
                         section.size, section.rva, section.size, section.rva, 0, 0, 0, 0,
                         section.characteristics)
    record = rsds_record(guid, age, pdb_name)
    struct.pack_into("<IIHHIIII", page, _DEBUG_DIRECTORY_OFFSET, 0, timestamp, 0, 0,
                     IMAGE_DEBUG_TYPE_CODEVIEW, len(record), _RSDS_OFFSET, _RSDS_OFFSET)
    page[_RSDS_OFFSET:_RSDS_OFFSET + len(record)] = record
    return bytes(page)
