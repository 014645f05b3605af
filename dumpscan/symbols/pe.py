"""The CodeView (RSDS) record of a loaded PE image: which PDB its symbols are in.

Layouts from Microsoft's "PE Format" specification, declared with construct: e_lfanew
at 0x3C of the DOS header; 'PE\\0\\0', then the 20-byte COFF file header, then the
optional header, whose Magic (0x20B PE32+, 0x10B PE32) decides where its data
directories start (+0x70, +0x60); the debug directory is data directory 6; a debug
directory entry is 28 bytes (Type 2 = IMAGE_DEBUG_TYPE_CODEVIEW); the CodeView record
is 'RSDS', the GUID (Data1-3 little-endian, Data4 as bytes), Age, the PDB path.
The image is read as loaded, so every RVA is an offset from the base.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from construct import Array, Bytes, Const, ConstructError, GreedyBytes, Int16ul, Int32ul, Padding, Struct

DOS_HEADER = Struct("e_magic" / Const(b"MZ"), Padding(0x3A), "e_lfanew" / Int32ul)
NT_HEADERS = Struct(
    "Signature" / Const(b"PE\0\0"),
    "FileHeader" / Struct("Machine" / Int16ul, "NumberOfSections" / Int16ul, "TimeDateStamp" / Int32ul,
                          "PointerToSymbolTable" / Int32ul, "NumberOfSymbols" / Int32ul,
                          "SizeOfOptionalHeader" / Int16ul, "Characteristics" / Int16ul),
    "Magic" / Int16ul,  # the optional header's first field
)
OPTIONAL_HEADER_OFFSET = 4 + 20  # Signature + IMAGE_FILE_HEADER
DATA_DIRECTORIES = {0x20B: 0x70, 0x10B: 0x60}  # Magic -> offset of DataDirectory[0] in the optional header
DATA_DIRECTORY = Struct("VirtualAddress" / Int32ul, "Size" / Int32ul)
DEBUG_DIRECTORY_INDEX = 6  # IMAGE_DIRECTORY_ENTRY_DEBUG
DEBUG_DIRECTORY = Struct(
    "Characteristics" / Int32ul, "TimeDateStamp" / Int32ul, "MajorVersion" / Int16ul,
    "MinorVersion" / Int16ul, "Type" / Int32ul, "SizeOfData" / Int32ul, "AddressOfRawData" / Int32ul,
    "PointerToRawData" / Int32ul,
)
IMAGE_DEBUG_TYPE_CODEVIEW = 2
MAX_DEBUG_ENTRIES = 16
GUID = Struct("Data1" / Int32ul, "Data2" / Int16ul, "Data3" / Int16ul, "Data4" / Bytes(8))
CV_INFO_PDB70 = Struct("CvSignature" / Const(b"RSDS"), "Signature" / GUID, "Age" / Int32ul,
                       "PdbFileName" / GreedyBytes)
RSDS_FIXED = 4 + GUID.sizeof() + 4  # CvSignature, Signature, Age
MAX_RECORD = 0x200  # RSDS record bytes read at most (the path is MAX_PATH at most)


class CodeViewError(Exception):
    """The image has no readable CodeView record."""


@dataclass(frozen=True)
class PdbIdentity:
    name: str  # the PDB file name, e.g. "ntkrnlmp.pdb"
    guid: str  # 32 upper-case hex digits, as symbol servers spell it
    age: int

    def __str__(self) -> str:
        return f"{self.name} {self.guid}-{self.age}"


def guid_text(guid) -> str:
    """A parsed GUID as symbol servers spell it: Data1-3 as numbers, Data4 as bytes."""
    return f"{guid.Data1:08X}{guid.Data2:04X}{guid.Data3:04X}{guid.Data4.hex().upper()}"


def parse_codeview(record: bytes) -> PdbIdentity | None:
    """The PDB identity of an RSDS record, or None when ``record`` is not one."""
    try:
        parsed = CV_INFO_PDB70.parse(record)
    except ConstructError:
        return None
    path = parsed.PdbFileName.split(b"\0", 1)[0].decode("ascii", "replace")
    return PdbIdentity(path.replace("/", "\\").rsplit("\\", 1)[-1], guid_text(parsed.Signature), parsed.Age)


def read_codeview(read: Callable[[int, int], bytes], base: int) -> PdbIdentity:
    """Read the RSDS record of the image loaded at ``base`` (``read`` may raise)."""
    try:
        try:
            dos = DOS_HEADER.parse(read(base, DOS_HEADER.sizeof()))
        except ConstructError:
            raise CodeViewError(f"no MZ header at {base:#x}") from None
        nt = base + dos.e_lfanew
        try:
            headers = NT_HEADERS.parse(read(nt, NT_HEADERS.sizeof()))
        except ConstructError:
            raise CodeViewError(f"no PE header at {nt:#x}") from None
        optional = nt + OPTIONAL_HEADER_OFFSET
        directories = optional + DATA_DIRECTORIES.get(headers.Magic, DATA_DIRECTORIES[0x10B])
        debug = DATA_DIRECTORY.parse(read(directories + DEBUG_DIRECTORY_INDEX * DATA_DIRECTORY.sizeof(),
                                          DATA_DIRECTORY.sizeof()))
        count = min(debug.Size // DEBUG_DIRECTORY.sizeof(), MAX_DEBUG_ENTRIES)
        entries = Array(count, DEBUG_DIRECTORY).parse(
            read(base + debug.VirtualAddress, count * DEBUG_DIRECTORY.sizeof())) if count else []
        for entry in entries:
            if entry.Type != IMAGE_DEBUG_TYPE_CODEVIEW or entry.SizeOfData < RSDS_FIXED:
                continue
            found = parse_codeview(read(base + entry.AddressOfRawData, min(entry.SizeOfData, MAX_RECORD)))
            if found is not None:
                return found
    except CodeViewError:
        raise
    except Exception as exc:  # absent pages, truncated structures
        raise CodeViewError(f"cannot read the CodeView record of the image at {base:#x}: {exc}") from None
    raise CodeViewError(f"the image at {base:#x} has no CodeView (RSDS) debug record")
