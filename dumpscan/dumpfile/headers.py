"""Declarative layouts of the Windows kernel crash-dump container.

Every structure the reader parses and the writer builds is declared here once,
with `construct`.  Offsets are never typed twice: the reader parses whole
structures, the writer patches single fields through :func:`offset_of` /
:func:`put`, and :data:`LAYOUT_FACTS` lists the offsets that public sources state
explicitly, so the test suite can check the declarations against them (the same
idea as kdmp-parser's static_asserts).

Sources (tags as in docs/dump-format.md, which lists every field with its status):

* [S9]  Microsoft Win32 metadata ``DUMP_HEADER32`` / ``DUMP_HEADER64`` as published in
        the windows-rs / windows-sys documentation (field order, array sizes,
        ``_reserved0[1760]`` (32-bit) and ``[4008]`` (64-bit)).
* [S5]  Volatility3 2.28.2 ``symbols/windows/crash.json``, ``crash64.json``,
        ``crash_common.json`` and ``layers/crash.py`` (offsets of the same fields; the
        bitmap header; page data at 0x1000 / 0x2000 for DumpType 1).
* [S7]  0vercl0k/kdmp-parser ``src/lib/kdmp-parser-structs.h`` (HEADER64 with offset
        comments and static_asserts, PHYSMEM_DESC with NumberOfPages u64 at +8,
        BMP_HEADER64, RDMP_HEADER64, KERNEL_RDMP_HEADER64, FULL_RDMP_HEADER64, CONTEXT,
        EXCEPTION_RECORD64) and ``src/lib/kdmp-parser.h``
        (``BuildPhysicalMemoryFromDump``: the RDMP page-range list).
* [S8]  google/rekall ``plugins/overlays/windows/crashdump.py`` (same header offsets).
* [S10] Singularity RDK ``Dump.h`` (``SUMMARY_DUMP64``) and Microsoft ``ntiodump.h``
        (``SUMMARY_DUMP32``) as found in public repositories: the old DumpType 2
        summary header.
* [W]   winnt.h ``CONTEXT`` (x86 and AMD64), ``XMM_SAVE_AREA32``,
        ``FLOATING_SAVE_AREA``, ``EXCEPTION_RECORD32/64`` and the ``CONTEXT_*`` flag
        values, read from public ports of the SDK header (Silk.NET's port of
        um/winnt.h 10.0.26100, the ReactOS/NeptuneOS NDK ``nti386.h``, pykd
        ``defctxi386.h``) and cross-checked with kdmp-parser's CONTEXT (Xmm0 at 0x1A0).
"""
from __future__ import annotations

from construct import (
    Array,
    Bytes,
    Int8ul,
    Int16ul,
    Int32ul,
    Int64ul,
    Padded,
    Padding,
    Struct,
)
from construct.core import Renamed, Subconstruct

PAGE_SIZE = 0x1000

# The writer fills the whole header with 'PAGE' before setting fields; fields it never
# sets keep the pattern [S16 volatility issue #256 example header; S7 PHYSMEM_DESC::LooksGood
# tests NumberOfRuns/NumberOfPages against exactly these values].
PAGE_FILL = b"PAGE"
UNSET32 = 0x45474150
UNSET64 = 0x4547415045474150
UNSET16 = 0x4150  # 'PA' - a u16 at a 4-aligned offset of the fill
UNSET8 = 0x50  # 'P'  - a u8 at a 4-aligned offset of the fill

# Signatures (as bytes in file order).  [S9, S5 check_header, S7 ExpectedSignature values]
SIGNATURE = b"PAGE"  # 0x45474150
VALID_DUMP32 = b"DUMP"  # 0x504D5544
VALID_DUMP64 = b"DU64"  # 0x34365544
SUMMARY_SIGNATURE_KERNEL = b"SDMP"  # 0x504D4453  [S7, S10 DUMP_SUMMARY_SIGNATURE 'PMDS']
SUMMARY_SIGNATURE_FULL = b"FDMP"  # 0x504D4446  [S7 ExpectedSignature2]
SUMMARY_VALID = b"DUMP"  # [S7 BMP_HEADER64::ExpectedValidDump, S10 DUMP_SUMMARY_VALID]
RDMP_SIGNATURE = b"RDMP"  # 0x504D4452  [S7 RDMP_HEADER64::ExpectedSignature]
RDMP_MARKER = 0x40  # [S7 RDMP_HEADER64::ExpectedMarker]

MACHINE_I386 = 0x14C  # IMAGE_FILE_MACHINE_I386  [S9 / PE spec]
MACHINE_AMD64 = 0x8664  # IMAGE_FILE_MACHINE_AMD64

# DumpType values [S7 DumpType_t; S10/S11 DUMP_TYPE enum]
TRIAGE_DUMP_TYPE = 4  # DUMP_TYPE_TRIAGE: no page map, only the crash summary (triage.py)
DUMP_TYPE_NAMES = {
    0: "unknown (0)",
    1: "full dump, run-based (1)",
    2: "old kernel summary dump (2)",
    3: "header-only dump (3)",
    4: "triage / small memory dump (4)",
    5: "bitmap dump (5)",
    6: "kernel / live kernel bitmap dump (6)",
    7: "automatic dump (7)",
    8: "kernel memory dump, .dump /k (8)",
    9: "kernel and user memory dump, .dump /ka (9)",
    0xA: "complete memory dump, .dump /f (0xA)",
}

# ---------------------------------------------------------------------------------------
# _PHYSICAL_MEMORY_DESCRIPTOR (the PhysicalMemoryBlock union member; 700-byte buffer)
# 32-bit: NumberOfRuns u32 @0, NumberOfPages u32 @4, Run[] @8 of {BasePage u32, PageCount u32}
#         [S9 PHYSICAL_MEMORY_DESCRIPTOR32, S5 crash.json, S10]
# 64-bit: NumberOfRuns u32 @0, (pad), NumberOfPages u64 @8, Run[] @0x10 of {u64, u64}
#         [S7 PHYSMEM_DESC static_assert size 0x20, S10 Dump.h ULONG64 NumberOfPages,
#          S8 rekall; Volatility's crash64.json says u32 @4 - wrong but unused]
# ---------------------------------------------------------------------------------------
PHYSICAL_MEMORY_BLOCK_SIZE = 700  # DMP_PHYSICAL_MEMORY_BLOCK_SIZE_32/_64 [S9, S10]

PHYSICAL_MEMORY_RUN32 = Struct("BasePage" / Int32ul, "PageCount" / Int32ul)
PHYSICAL_MEMORY_RUN64 = Struct("BasePage" / Int64ul, "PageCount" / Int64ul)

# How many runs fit in the 700-byte buffer: (700 - 8) // 8 = 86, (700 - 16) // 16 = 42.
MAX_RUNS32 = (PHYSICAL_MEMORY_BLOCK_SIZE - 8) // 8
MAX_RUNS64 = (PHYSICAL_MEMORY_BLOCK_SIZE - 16) // 16

PHYSICAL_MEMORY_DESCRIPTOR32 = Struct(
    "NumberOfRuns" / Int32ul,
    "NumberOfPages" / Int32ul,
    "Run" / Array(MAX_RUNS32, PHYSICAL_MEMORY_RUN32),
)
PHYSICAL_MEMORY_DESCRIPTOR64 = Struct(
    "NumberOfRuns" / Int32ul,
    "Padding0" / Int32ul,
    "NumberOfPages" / Int64ul,
    "Run" / Array(MAX_RUNS64, PHYSICAL_MEMORY_RUN64),
)

# ---------------------------------------------------------------------------------------
# EXCEPTION_RECORD32 (0x50) / EXCEPTION_RECORD64 (0x98)  [W, S5 crash*.json, S7 static_assert 0x98]
# ---------------------------------------------------------------------------------------
EXCEPTION_MAXIMUM_PARAMETERS = 15
EXCEPTION_RECORD32 = Struct(
    "ExceptionCode" / Int32ul,
    "ExceptionFlags" / Int32ul,
    "ExceptionRecord" / Int32ul,
    "ExceptionAddress" / Int32ul,
    "NumberParameters" / Int32ul,
    "ExceptionInformation" / Array(EXCEPTION_MAXIMUM_PARAMETERS, Int32ul),
)
EXCEPTION_RECORD64 = Struct(
    "ExceptionCode" / Int32ul,
    "ExceptionFlags" / Int32ul,
    "ExceptionRecord" / Int64ul,
    "ExceptionAddress" / Int64ul,
    "NumberParameters" / Int32ul,
    "UnusedAlignment" / Int32ul,
    "ExceptionInformation" / Array(EXCEPTION_MAXIMUM_PARAMETERS, Int64ul),
)

# ---------------------------------------------------------------------------------------
# CONTEXT  [W]
# XMM_SAVE_AREA32 is the 512-byte FXSAVE image; MxCsr at +0x18.  On x64 it is FltSave at
# CONTEXT+0x100 (so FltSave.MxCsr is CONTEXT+0x118); on x86 the same image is
# ExtendedRegisters at CONTEXT+0xCC (MxCsr at +0xE4) - the x86 CONTEXT has no other MxCsr.
# ---------------------------------------------------------------------------------------
XMM_SAVE_AREA32 = Struct(
    "ControlWord" / Int16ul,
    "StatusWord" / Int16ul,
    "TagWord" / Int8ul,
    "Reserved1" / Int8ul,
    "ErrorOpcode" / Int16ul,
    "ErrorOffset" / Int32ul,
    "ErrorSelector" / Int16ul,
    "Reserved2" / Int16ul,
    "DataOffset" / Int32ul,
    "DataSelector" / Int16ul,
    "Reserved3" / Int16ul,
    "MxCsr" / Int32ul,
    "MxCsr_Mask" / Int32ul,
    "FloatRegisters" / Bytes(8 * 16),
    "XmmRegisters" / Bytes(16 * 16),
    "Reserved4" / Bytes(96),
)

CONTEXT_AMD64 = Struct(
    "P1Home" / Int64ul,
    "P2Home" / Int64ul,
    "P3Home" / Int64ul,
    "P4Home" / Int64ul,
    "P5Home" / Int64ul,
    "P6Home" / Int64ul,
    "ContextFlags" / Int32ul,  # 0x30
    "MxCsr" / Int32ul,  # 0x34
    "SegCs" / Int16ul,  # 0x38
    "SegDs" / Int16ul,
    "SegEs" / Int16ul,
    "SegFs" / Int16ul,
    "SegGs" / Int16ul,
    "SegSs" / Int16ul,
    "EFlags" / Int32ul,  # 0x44
    "Dr0" / Int64ul,  # 0x48
    "Dr1" / Int64ul,
    "Dr2" / Int64ul,
    "Dr3" / Int64ul,
    "Dr6" / Int64ul,
    "Dr7" / Int64ul,
    "Rax" / Int64ul,  # 0x78
    "Rcx" / Int64ul,
    "Rdx" / Int64ul,
    "Rbx" / Int64ul,
    "Rsp" / Int64ul,
    "Rbp" / Int64ul,
    "Rsi" / Int64ul,
    "Rdi" / Int64ul,
    "R8" / Int64ul,
    "R9" / Int64ul,
    "R10" / Int64ul,
    "R11" / Int64ul,
    "R12" / Int64ul,
    "R13" / Int64ul,
    "R14" / Int64ul,
    "R15" / Int64ul,
    "Rip" / Int64ul,  # 0xF8
    "FltSave" / XMM_SAVE_AREA32,  # 0x100
    "VectorRegister" / Bytes(26 * 16),  # 0x300
    "VectorControl" / Int64ul,  # 0x4A0
    "DebugControl" / Int64ul,
    "LastBranchToRip" / Int64ul,
    "LastBranchFromRip" / Int64ul,
    "LastExceptionToRip" / Int64ul,
    "LastExceptionFromRip" / Int64ul,
)  # 0x4D0

FLOATING_SAVE_AREA = Struct(
    "ControlWord" / Int32ul,
    "StatusWord" / Int32ul,
    "TagWord" / Int32ul,
    "ErrorOffset" / Int32ul,
    "ErrorSelector" / Int32ul,
    "DataOffset" / Int32ul,
    "DataSelector" / Int32ul,
    "RegisterArea" / Bytes(80),
    "Cr0NpxState" / Int32ul,
)  # 0x70

CONTEXT_I386 = Struct(
    "ContextFlags" / Int32ul,
    "Dr0" / Int32ul,
    "Dr1" / Int32ul,
    "Dr2" / Int32ul,
    "Dr3" / Int32ul,
    "Dr6" / Int32ul,
    "Dr7" / Int32ul,
    "FloatSave" / FLOATING_SAVE_AREA,  # 0x1C
    "SegGs" / Int32ul,  # 0x8C
    "SegFs" / Int32ul,
    "SegEs" / Int32ul,
    "SegDs" / Int32ul,
    "Edi" / Int32ul,  # 0x9C
    "Esi" / Int32ul,
    "Ebx" / Int32ul,
    "Edx" / Int32ul,
    "Ecx" / Int32ul,
    "Eax" / Int32ul,
    "Ebp" / Int32ul,  # 0xB4
    "Eip" / Int32ul,  # 0xB8
    "SegCs" / Int32ul,
    "EFlags" / Int32ul,
    "Esp" / Int32ul,
    "SegSs" / Int32ul,  # 0xC8
    "ExtendedRegisters" / XMM_SAVE_AREA32,  # 0xCC, MAXIMUM_SUPPORTED_EXTENSION = 512
)  # 0x2CC

# CONTEXT_* flag values [W]
CONTEXT_AMD64_FLAG = 0x00100000
CONTEXT_I386_FLAG = 0x00010000
CONTEXT_CONTROL = 0x1
CONTEXT_INTEGER = 0x2
CONTEXT_SEGMENTS = 0x4
CONTEXT_FLOATING_POINT = 0x8
CONTEXT_DEBUG_REGISTERS = 0x10
CONTEXT_EXTENDED_REGISTERS = 0x20  # x86 only
# CONTEXT_ALL as winnt.h defines it for each architecture.
CONTEXT_ALL_AMD64 = CONTEXT_AMD64_FLAG | 0x1F
CONTEXT_ALL_I386 = CONTEXT_I386_FLAG | 0x3F

CONTEXT_RECORD_SIZE32 = 1200  # DMP_CONTEXT_RECORD_SIZE_32 [S9, S10]
CONTEXT_RECORD_SIZE64 = 3000  # DMP_CONTEXT_RECORD_SIZE_64 [S9, S10]
COMMENT_SIZE = 128  # DMP_HEADER_COMMENT_SIZE [S9, S10]

# ---------------------------------------------------------------------------------------
# DUMP_HEADER32: 'PAGE' 'DUMP', 0x1000 bytes  [S9 field order; S5 crash.json and S8 offsets]
# ---------------------------------------------------------------------------------------
DUMP_HEADER32 = Struct(
    "Signature" / Bytes(4),  # 0x000
    "ValidDump" / Bytes(4),  # 0x004
    "MajorVersion" / Int32ul,  # 0x008
    "MinorVersion" / Int32ul,  # 0x00C
    "DirectoryTableBase" / Int32ul,  # 0x010
    "PfnDataBase" / Int32ul,  # 0x014
    "PsLoadedModuleList" / Int32ul,  # 0x018
    "PsActiveProcessHead" / Int32ul,  # 0x01C
    "MachineImageType" / Int32ul,  # 0x020
    "NumberProcessors" / Int32ul,  # 0x024
    "BugCheckCode" / Int32ul,  # 0x028
    "BugCheckParameter" / Array(4, Int32ul),  # 0x02C
    "VersionUser" / Bytes(32),  # 0x03C
    "PaeEnabled" / Int8ul,  # 0x05C
    "KdSecondaryVersion" / Int8ul,  # 0x05D
    "Spare3" / Bytes(2),  # 0x05E
    "KdDebuggerDataBlock" / Int32ul,  # 0x060
    "PhysicalMemoryBlock" / Padded(PHYSICAL_MEMORY_BLOCK_SIZE, PHYSICAL_MEMORY_DESCRIPTOR32),  # 0x064
    "ContextRecord" / Padded(CONTEXT_RECORD_SIZE32, CONTEXT_I386),  # 0x320
    "Exception" / EXCEPTION_RECORD32,  # 0x7D0
    "Comment" / Bytes(COMMENT_SIZE),  # 0x820
    "Attributes" / Int32ul,  # 0x8A0
    "BootId" / Int32ul,  # 0x8A4
    "Reserved0" / Bytes(1760),  # 0x8A8
    "DumpType" / Int32ul,  # 0xF88
    "MiniDumpFields" / Int32ul,  # 0xF8C
    "SecondaryDataState" / Int32ul,  # 0xF90
    "ProductType" / Int32ul,  # 0xF94
    "SuiteMask" / Int32ul,  # 0xF98
    "WriterStatus" / Int32ul,  # 0xF9C
    "RequiredDumpSpace" / Int64ul,  # 0xFA0
    "Reserved2" / Bytes(16),  # 0xFA8
    "SystemUpTime" / Int64ul,  # 0xFB8
    "SystemTime" / Int64ul,  # 0xFC0
    "Reserved3" / Bytes(56),  # 0xFC8
)  # 0x1000

# ---------------------------------------------------------------------------------------
# DUMP_HEADER64: 'PAGE' 'DU64', 0x2000 bytes  [S9 field order; S7 offset comments/asserts;
# S5 crash64.json; S8]
# ---------------------------------------------------------------------------------------
DUMP_HEADER64 = Struct(
    "Signature" / Bytes(4),  # 0x000
    "ValidDump" / Bytes(4),  # 0x004
    "MajorVersion" / Int32ul,  # 0x008
    "MinorVersion" / Int32ul,  # 0x00C
    "DirectoryTableBase" / Int64ul,  # 0x010
    "PfnDataBase" / Int64ul,  # 0x018
    "PsLoadedModuleList" / Int64ul,  # 0x020
    "PsActiveProcessHead" / Int64ul,  # 0x028
    "MachineImageType" / Int32ul,  # 0x030
    "NumberProcessors" / Int32ul,  # 0x034
    "BugCheckCode" / Int32ul,  # 0x038
    "Padding0" / Padding(4),  # 0x03C natural alignment of the next u64
    "BugCheckParameter" / Array(4, Int64ul),  # 0x040
    "VersionUser" / Bytes(32),  # 0x060
    "KdDebuggerDataBlock" / Int64ul,  # 0x080
    "PhysicalMemoryBlock" / Padded(PHYSICAL_MEMORY_BLOCK_SIZE, PHYSICAL_MEMORY_DESCRIPTOR64),  # 0x088
    "Padding1" / Padding(4),  # 0x344
    "ContextRecord" / Padded(CONTEXT_RECORD_SIZE64, CONTEXT_AMD64),  # 0x348
    "Exception" / EXCEPTION_RECORD64,  # 0xF00
    "DumpType" / Int32ul,  # 0xF98
    "Padding2" / Padding(4),  # 0xF9C
    "RequiredDumpSpace" / Int64ul,  # 0xFA0
    "SystemTime" / Int64ul,  # 0xFA8
    "Comment" / Bytes(COMMENT_SIZE),  # 0xFB0
    "SystemUpTime" / Int64ul,  # 0x1030
    "MiniDumpFields" / Int32ul,  # 0x1038
    "SecondaryDataState" / Int32ul,  # 0x103C
    "ProductType" / Int32ul,  # 0x1040
    "SuiteMask" / Int32ul,  # 0x1044
    "WriterStatus" / Int32ul,  # 0x1048
    "Unused1" / Int8ul,  # 0x104C
    "KdSecondaryVersion" / Int8ul,  # 0x104D
    "Unused" / Bytes(2),  # 0x104E
    "Attributes" / Int32ul,  # 0x1050
    "BootId" / Int32ul,  # 0x1054
    "Reserved0" / Bytes(4008),  # 0x1058
)  # 0x2000

HEADER_SIZE32 = 0x1000
HEADER_SIZE64 = 0x2000

# ---------------------------------------------------------------------------------------
# Bitmap ("summary") header of DumpType 5 and 6, right after the main header
# (0x1000 / 0x2000), same layout for both bitnesses [S5 crash_common.json _SUMMARY_DUMP is
# shared by the 32- and 64-bit layers, at page_size * headerpages; S7 BMP_HEADER64; S8].
# ---------------------------------------------------------------------------------------
BITMAP_HEADER = Struct(
    "Signature" / Bytes(4),  # 0x00 'SDMP' or 'FDMP'
    "ValidDump" / Bytes(4),  # 0x04 'DUMP'
    "DumpOptions" / Int32ul,  # 0x08 [S5 name; meaning unknown - written 0, MODEL]
    "Reserved" / Bytes(0x14),  # 0x0C..0x20 unnamed in every source (written 0, MODEL)
    "HeaderSize" / Int64ul,  # 0x20 file offset of the first stored page (S7 FirstPage)
    "Pages" / Int64ul,  # 0x28 number of set bits / stored pages (S7 TotalPresentPages)
    "BitmapSize" / Int64ul,  # 0x30 number of bits (S7 calls it Pages)
)  # 0x38, bitmap follows: one bit per PFN, least significant bit first
BITMAP_OFFSET = 0x38

# ---------------------------------------------------------------------------------------
# DumpType 8 / 9 / 0xA: 'RDMP' header at 0x2000, then a list of page ranges [S7].
# FirstPageOffset - 0x2040 == MetadataSize - 0x20 is what kdmp-parser's LooksGood() checks,
# i.e. MetadataSize counts the bytes from the end of the 0x20-byte RDMP header up to the
# first page.  The "Bitmap" member of KERNEL/FULL_RDMP_HEADER64 is read by
# BuildPhysicalMemoryFromDump as an array of {PageFileNumber u64, NumberOfPages u64}; the walk
# stops at an entry with PageFileNumber 0 and, for 0xA, once TotalNumberOfPages is reached.
# ---------------------------------------------------------------------------------------
RDMP_HEADER = Struct(
    "Marker" / Int32ul,  # 0x00 == 0x40
    "Signature" / Bytes(4),  # 0x04 'RDMP'
    "ValidDump" / Bytes(4),  # 0x08 'DUMP'
    "Unused" / Int32ul,  # 0x0C
    "MetadataSize" / Int64ul,  # 0x10
    "FirstPageOffset" / Int64ul,  # 0x18
)  # 0x20
KERNEL_RDMP_TAIL = Struct(
    "Unknown1" / Int64ul,  # 0x20 (meaning unknown; written 0)
    "Unknown2" / Int64ul,  # 0x28
)
FULL_RDMP_TAIL = Struct(
    "NumberOfRanges" / Int32ul,  # 0x20
    "Unknown1" / Int16ul,  # 0x24
    "Unknown2" / Int16ul,  # 0x26
    "TotalNumberOfPages" / Int64ul,  # 0x28
)
RDMP_RANGES_OFFSET = 0x30  # offsetof(KERNEL_RDMP_HEADER64 / FULL_RDMP_HEADER64, Bitmap) [S7]
PFN_RANGE = Struct("PageFileNumber" / Int64ul, "NumberOfPages" / Int64ul)

# ---------------------------------------------------------------------------------------
# DumpType 2 (old kernel summary dump) [S10].  MODEL: only one family of sources describes
# it and no tool we can run reads it.  32-bit (pshpack4): Buffer at +0x20.  64-bit (natural
# packing; SizeOfBitMap u32 then ULONG64 _reserved0 aligned to 8): Buffer at +0x28.
# Header fields are 32-bit, unlike the DumpType 5 header.
# ---------------------------------------------------------------------------------------
SUMMARY_DUMP32 = Struct(
    "Signature" / Bytes(4),
    "ValidDump" / Bytes(4),
    "DumpOptions" / Int32ul,
    "HeaderSize" / Int32ul,  # 0x0C offset of the first page
    "BitmapSize" / Int32ul,  # 0x10 number of bits
    "Pages" / Int32ul,  # 0x14 set bits
    "SizeOfBitMap" / Int32ul,  # 0x18
    "Reserved0" / Int32ul,  # 0x1C
)  # Buffer at 0x20
SUMMARY_DUMP64 = Struct(
    "Signature" / Bytes(4),
    "ValidDump" / Bytes(4),
    "DumpOptions" / Int32ul,
    "HeaderSize" / Int32ul,
    "BitmapSize" / Int32ul,
    "Pages" / Int32ul,
    "SizeOfBitMap" / Int32ul,  # 0x18
    "Padding0" / Padding(4),  # 0x1C
    "Reserved0" / Int64ul,  # 0x20
)  # Buffer at 0x28


# ---------------------------------------------------------------------------------------
# Field offsets from the declarations
# ---------------------------------------------------------------------------------------
def _inner(con):
    while isinstance(con, (Renamed, Subconstruct)) and not isinstance(con, Struct):
        if isinstance(con, Array):
            return con
        con = con.subcon
    return con


def _find(con, dotted: str):
    """Return (offset, subconstruct) of a dotted field path such as 'ContextRecord.FltSave.MxCsr'."""
    offset = 0
    cur = con
    for part in dotted.split("."):
        struct = _inner(cur)
        if not isinstance(struct, Struct):
            raise KeyError(f"{dotted}: {part!r} is not inside a struct")
        pos = 0
        for sub in struct.subcons:
            if sub.name == part:
                offset += pos
                cur = sub
                break
            pos += sub.sizeof()
        else:
            raise KeyError(f"{dotted}: no field {part!r}")
    return offset, cur


def offset_of(con, dotted: str) -> int:
    """Byte offset of a (dotted) field inside a construct Struct."""
    return _find(con, dotted)[0]


def size_of(con, dotted: str | None = None) -> int:
    if dotted is None:
        return con.sizeof()
    return _find(con, dotted)[1].sizeof()


def put(buf: bytearray, base: int, con, dotted: str, value) -> None:
    """Build one field with its own declaration and store it at base + its offset."""
    off, sub = _find(con, dotted)
    data = sub.build(value)
    buf[base + off : base + off + len(data)] = data


# Offsets stated explicitly by public sources; tests check the declarations against them.
LAYOUT_FACTS = {
    # (struct name, field path): offset
    ("DUMP_HEADER32", "DirectoryTableBase"): 0x10,  # S5, S8
    ("DUMP_HEADER32", "PaeEnabled"): 0x5C,  # S5, S8, S10 C_ASSERT 92
    ("DUMP_HEADER32", "KdDebuggerDataBlock"): 0x60,  # S5, S8, S10 C_ASSERT 96
    ("DUMP_HEADER32", "PhysicalMemoryBlock"): 0x64,  # S5, S8
    ("DUMP_HEADER32", "ContextRecord"): 0x320,  # S5, S8
    ("DUMP_HEADER32", "Exception"): 0x7D0,  # S5, S8
    ("DUMP_HEADER32", "Comment"): 0x820,  # S5, S8
    ("DUMP_HEADER32", "DumpType"): 0xF88,  # S5, S8, S10 win32dd comment
    ("DUMP_HEADER32", "RequiredDumpSpace"): 0xFA0,  # S5, S8
    ("DUMP_HEADER32", "SystemUpTime"): 0xFB8,  # S5, S8
    ("DUMP_HEADER32", "SystemTime"): 0xFC0,  # S5, S8
    ("DUMP_HEADER64", "BugCheckParameter"): 0x40,  # S7 static_assert
    ("DUMP_HEADER64", "KdDebuggerDataBlock"): 0x80,  # S7 static_assert
    ("DUMP_HEADER64", "PhysicalMemoryBlock"): 0x88,  # S7, S5
    ("DUMP_HEADER64", "PhysicalMemoryBlock.NumberOfPages"): 0x90,  # S7 (+8, u64)
    ("DUMP_HEADER64", "PhysicalMemoryBlock.Run"): 0x98,  # S7 (+0x10)
    ("DUMP_HEADER64", "ContextRecord"): 0x348,  # S7 static_assert
    ("DUMP_HEADER64", "Exception"): 0xF00,  # S7 static_assert
    ("DUMP_HEADER64", "DumpType"): 0xF98,  # S7, S5
    ("DUMP_HEADER64", "RequiredDumpSpace"): 0xFA0,  # S7, S5
    ("DUMP_HEADER64", "SystemTime"): 0xFA8,  # S7, S5
    ("DUMP_HEADER64", "Comment"): 0xFB0,  # S7 static_assert
    ("DUMP_HEADER64", "SystemUpTime"): 0x1030,  # S7, S5
    ("DUMP_HEADER64", "ProductType"): 0x1040,  # S7, S5
    ("DUMP_HEADER64", "KdSecondaryVersion"): 0x104D,  # S7, S5
    ("DUMP_HEADER64", "Attributes"): 0x1050,  # S7
    ("DUMP_HEADER64", "BootId"): 0x1054,  # S7
    ("CONTEXT_AMD64", "MxCsr"): 0x34,  # W
    ("CONTEXT_AMD64", "SegCs"): 0x38,  # W
    ("CONTEXT_AMD64", "Rip"): 0xF8,  # W
    ("CONTEXT_AMD64", "FltSave"): 0x100,  # W
    ("CONTEXT_AMD64", "FltSave.MxCsr"): 0x118,  # W (FltSave + 0x18)
    ("CONTEXT_AMD64", "FltSave.XmmRegisters"): 0x1A0,  # S7 static_assert Xmm0 == 0x1a0
    ("CONTEXT_I386", "FloatSave"): 0x1C,  # W
    ("CONTEXT_I386", "SegGs"): 0x8C,  # W
    ("CONTEXT_I386", "Edi"): 0x9C,  # W
    ("CONTEXT_I386", "Eip"): 0xB8,  # W
    ("CONTEXT_I386", "ExtendedRegisters"): 0xCC,  # W
    ("EXCEPTION_RECORD64", "ExceptionInformation"): 0x20,  # S5, S8
    ("EXCEPTION_RECORD32", "ExceptionInformation"): 0x14,  # S5, S8
    ("BITMAP_HEADER", "HeaderSize"): 0x20,  # S5, S7 static_assert FirstPage 0x20
    ("BITMAP_HEADER", "Pages"): 0x28,  # S5, S7
    ("BITMAP_HEADER", "BitmapSize"): 0x30,  # S5, S7
    ("RDMP_HEADER", "MetadataSize"): 0x10,  # S7
    ("RDMP_HEADER", "FirstPageOffset"): 0x18,  # S7
}
LAYOUT_SIZES = {
    "DUMP_HEADER32": 0x1000,  # S5, S9
    "DUMP_HEADER64": 0x2000,  # S5, S7 (BmpHeader at 0x2000)
    "CONTEXT_AMD64": 0x4D0,  # W
    "CONTEXT_I386": 0x2CC,  # W
    "XMM_SAVE_AREA32": 0x200,  # W
    "EXCEPTION_RECORD32": 0x50,  # S5
    "EXCEPTION_RECORD64": 0x98,  # S7 static_assert
    "BITMAP_HEADER": 0x38,  # S5
    "RDMP_HEADER": 0x20,  # S7 static_assert
    "PFN_RANGE": 0x10,  # S7
    "SUMMARY_DUMP32": 0x20,  # S10 (MODEL)
    "SUMMARY_DUMP64": 0x28,  # S10 (MODEL)
}


# ---------------------------------------------------------------------------------------
# Register names the reader decodes and the writer accepts: key -> path inside CONTEXT.
# x64 has two MXCSR copies (CONTEXT.MxCsr and FltSave.MxCsr); kdmp-parser refuses a dump
# where they differ [S7 CONTEXT::LooksGood].  The x86 CONTEXT has only the FXSAVE copy in
# ExtendedRegisters; it is exposed under the key "MxCsr".
# ---------------------------------------------------------------------------------------
CONTEXT_REGISTERS_AMD64 = {
    name: name
    for name in (
        "P1Home P2Home P3Home P4Home P5Home P6Home ContextFlags MxCsr "
        "SegCs SegDs SegEs SegFs SegGs SegSs EFlags Dr0 Dr1 Dr2 Dr3 Dr6 Dr7 "
        "Rax Rcx Rdx Rbx Rsp Rbp Rsi Rdi R8 R9 R10 R11 R12 R13 R14 R15 Rip "
        "VectorControl DebugControl LastBranchToRip LastBranchFromRip "
        "LastExceptionToRip LastExceptionFromRip"
    ).split()
}
CONTEXT_REGISTERS_AMD64.update(
    {
        "FltSave.ControlWord": "FltSave.ControlWord",
        "FltSave.StatusWord": "FltSave.StatusWord",
        "FltSave.TagWord": "FltSave.TagWord",
        "FltSave.MxCsr": "FltSave.MxCsr",
        "FltSave.MxCsr_Mask": "FltSave.MxCsr_Mask",
    }
)
CONTEXT_REGISTERS_I386 = {
    name: name
    for name in (
        "ContextFlags Dr0 Dr1 Dr2 Dr3 Dr6 Dr7 SegGs SegFs SegEs SegDs "
        "Edi Esi Ebx Edx Ecx Eax Ebp Eip SegCs EFlags Esp SegSs"
    ).split()
}
CONTEXT_REGISTERS_I386.update(
    {
        "FloatSave.ControlWord": "FloatSave.ControlWord",
        "FloatSave.StatusWord": "FloatSave.StatusWord",
        "FloatSave.TagWord": "FloatSave.TagWord",
        "MxCsr": "ExtendedRegisters.MxCsr",
        "ExtendedRegisters.ControlWord": "ExtendedRegisters.ControlWord",
        "ExtendedRegisters.MxCsr_Mask": "ExtendedRegisters.MxCsr_Mask",
    }
)

# 1970-01-01 in FILETIME units (100 ns since 1601-01-01), the epoch of SystemTime [V Win32 FILETIME]
FILETIME_UNIX_EPOCH = 116_444_736_000_000_000


# ---------------------------------------------------------------------------------------
# DumpType 4: the triage ("small memory") dump.  TRIAGE_DUMP32 / TRIAGE_DUMP64 right after
# the main header (0x1000 / 0x2000).  Every *Offset is a file offset from the start of the
# dump (the debugger checks the 'DGRT' ULONG at Dump + SizeOfDump - 4) [S10 Singularity
# Dump.h TRIAGE_DUMP32/64 with offset comments; S18 rizin dmp_specs.h dmp32_triage /
# dmp64_triage (read at sizeof(dmp64_header)); S19 Microsoft ntiodump.h (1994-1999, NT 5
# TRIAGE_DUMP_HEADER: the fields up to TriageOptions); S20 debugger dump.cpp
# (IndexByByte(Dump, Triage.SizeOfDump - sizeof(ULONG)) != TRIAGE_DUMP_VALID)].
# ---------------------------------------------------------------------------------------
_TRIAGE_COMMON = (
    "ServicePackBuild" / Int32ul,  # 0x00
    "SizeOfDump" / Int32ul,  # 0x04 bytes of the whole dump file
    "ValidOffset" / Int32ul,  # 0x08 file offset of the ULONG TRIAGE_DUMP_VALID
    "ContextOffset" / Int32ul,  # 0x0C CONTEXT record
    "ExceptionOffset" / Int32ul,  # 0x10 EXCEPTION_RECORD
    "MmOffset" / Int32ul,  # 0x14
    "UnloadedDriversOffset" / Int32ul,  # 0x18
    "PrcbOffset" / Int32ul,  # 0x1C KPRCB
    "ProcessOffset" / Int32ul,  # 0x20 EPROCESS
    "ThreadOffset" / Int32ul,  # 0x24 ETHREAD
    "CallStackOffset" / Int32ul,  # 0x28
    "SizeOfCallStack" / Int32ul,  # 0x2C
    "DriverListOffset" / Int32ul,  # 0x30 DUMP_DRIVER_ENTRY[DriverCount]
    "DriverCount" / Int32ul,  # 0x34
    "StringPoolOffset" / Int32ul,  # 0x38 DUMP_STRINGs
    "StringPoolSize" / Int32ul,  # 0x3C
    "BrokenDriverOffset" / Int32ul,  # 0x40
    "TriageOptions" / Int32ul,  # 0x44 TRIAGE_DUMP_* bits of what is present
)
TRIAGE_DUMP32 = Struct(
    *_TRIAGE_COMMON,
    "TopOfStack" / Int32ul,  # 0x48
    "DataPageAddress" / Int32ul,  # 0x4C
    "DataPageOffset" / Int32ul,  # 0x50
    "DataPageSize" / Int32ul,  # 0x54
    "DebuggerDataOffset" / Int32ul,  # 0x58
    "DebuggerDataSize" / Int32ul,  # 0x5C
    "DataBlocksOffset" / Int32ul,  # 0x60 TRIAGE_DATA_BLOCK[DataBlocksCount]
    "DataBlocksCount" / Int32ul,  # 0x64
)  # 0x68
TRIAGE_DUMP64 = Struct(
    *_TRIAGE_COMMON,
    "TopOfStack" / Int64ul,  # 0x48
    "ArchitectureSpecific" / Bytes(16),  # 0x50 IA64 BStore (unused on x64)
    "DataPageAddress" / Int64ul,  # 0x60
    "DataPageOffset" / Int32ul,  # 0x68
    "DataPageSize" / Int32ul,  # 0x6C
    "DebuggerDataOffset" / Int32ul,  # 0x70
    "DebuggerDataSize" / Int32ul,  # 0x74
    "DataBlocksOffset" / Int32ul,  # 0x78
    "DataBlocksCount" / Int32ul,  # 0x7C
)  # 0x80

# 'DGRT' as the C multi-character constant, a ULONG stored little-endian [S10, S19, S20].
TRIAGE_DUMP_VALID = b"TRGD"
# TriageOptions / "ValidFields" bits [S10, S19]
TRIAGE_DUMP_CONTEXT = 0x0001
TRIAGE_DUMP_EXCEPTION = 0x0002
TRIAGE_DUMP_DRIVER_LIST = 0x0040
TRIAGE_DUMP_BROKEN_DRIVER = 0x0080
TRIAGE_DUMP_DATA_BLOCKS = 0x0800
TRIAGE_OPTION_OVERFLOWED = 0x0100  # [S10]

# TRIAGE_DATA_BLOCK: a range of kernel virtual memory saved in the dump [S10 (ULONG64
# Address, ULONG Offset, ULONG Size); S18 dmp64_triage_datablock / dmp32_triage_datablock].
TRIAGE_DATA_BLOCK64 = Struct("Address" / Int64ul, "Offset" / Int32ul, "Size" / Int32ul)  # 0x10
TRIAGE_DATA_BLOCK32 = Struct("Address" / Int32ul, "Offset" / Int32ul, "Size" / Int32ul)  # 0xC

# UNICODE_STRING as the kernel stores it (Length and MaximumLength in bytes) [S18
# dmp_unicode_string32/64; winnt.h].
UNICODE_STRING64 = Struct("Length" / Int16ul, "MaximumLength" / Int16ul, "Padding" / Padding(4),
                          "Buffer" / Int64ul)
UNICODE_STRING32 = Struct("Length" / Int16ul, "MaximumLength" / Int16ul, "Buffer" / Int32ul)

# DUMP_DRIVER_ENTRY: {ULONG DriverNameOffset; KLDR_DATA_TABLE_ENTRY LdrEntry} [S19
# DUMP_DRIVER_ENTRY; S18 dmp_driver_entry32/64 (64-bit: a ULONG of alignment first)].
# Declared here: the loader entry's members up to LoadCount, the ones every Windows
# version keeps at these offsets [S18; the real 10/11 ISFs in ../shared/isf agree:
# _KLDR_DATA_TABLE_ENTRY DllBase +0x30, SizeOfImage +0x40, FullDllName +0x48, BaseDllName
# +0x58].  The record is as long as the kernel's own loader entry, so its stride is
# measured in the file (triage.py), never assumed.
DUMP_DRIVER_ENTRY64 = Struct(
    "DriverNameOffset" / Int32ul,  # 0x00 file offset of a DUMP_STRING
    "Alignment" / Int32ul,  # 0x04
    "InLoadOrderLinks" / Bytes(16),  # 0x08 (LdrEntry + 0x00)
    "ExceptionTable" / Int64ul,  # 0x18
    "ExceptionTableSize" / Int32ul,  # 0x20
    "Padding0" / Padding(4),
    "GpValue" / Int64ul,  # 0x28
    "NonPagedDebugInfo" / Int64ul,  # 0x30
    "DllBase" / Int64ul,  # 0x38 (LdrEntry + 0x30)
    "EntryPoint" / Int64ul,  # 0x40
    "SizeOfImage" / Int32ul,  # 0x48 (LdrEntry + 0x40)
    "Padding1" / Padding(4),
    "FullDllName" / UNICODE_STRING64,  # 0x50 (LdrEntry + 0x48)
    "BaseDllName" / UNICODE_STRING64,  # 0x60 (LdrEntry + 0x58)
    "Flags" / Int32ul,  # 0x70
    "LoadCount" / Int16ul,  # 0x74
)  # 0x76 declared; the record is longer
DUMP_DRIVER_ENTRY32 = Struct(
    "DriverNameOffset" / Int32ul,  # 0x00
    "InLoadOrderLinks" / Bytes(8),  # 0x04 (LdrEntry + 0x00)
    "ExceptionTable" / Int32ul,  # 0x0C
    "ExceptionTableSize" / Int32ul,  # 0x10
    "GpValue" / Int32ul,  # 0x14
    "NonPagedDebugInfo" / Int32ul,  # 0x18
    "DllBase" / Int32ul,  # 0x1C (LdrEntry + 0x18)
    "EntryPoint" / Int32ul,  # 0x20
    "SizeOfImage" / Int32ul,  # 0x24 (LdrEntry + 0x20)
    "FullDllName" / UNICODE_STRING32,  # 0x28
    "BaseDllName" / UNICODE_STRING32,  # 0x30
    "Flags" / Int32ul,  # 0x38
    "LoadCount" / Int16ul,  # 0x3C
)  # 0x3E declared
DRIVER_ENTRY_LDR_OFFSET = {64: 8, 32: 4}  # where LdrEntry starts in a DUMP_DRIVER_ENTRY
# TimeDateStamp of the loader entry, where the loader entry's layout is known: the
# 0xA0-byte _KLDR_DATA_TABLE_ENTRY of Windows 10 19041 and 11 22000 x64 has it at +0x9C
# (the real ISFs in ../shared/isf: ntkrnlmp.pdb 0B0A8943... and 1C9875F7...).  Keyed by
# (bits, size of the whole DUMP_DRIVER_ENTRY record); other layouts give no timestamp.
DRIVER_ENTRY_TIMESTAMP = {(64, 8 + 0xA0): 8 + 0x9C}
# DUMP_STRING: ULONG Length in WCHARs (not counting the NUL), then the UTF-16LE
# characters and a NUL [S19 "Length IN WCHARs"; S18 reads count * sizeof(WCHAR)].  S10's
# copy says "IN BYTES"; we follow S18/S19 (MODEL where they disagree).
DUMP_STRING_ALIGN = 8  # records padded to 8 bytes (MODEL)
TRIAGE_MAX_DRIVERS = 4096  # a sanity bound: Windows loads a few hundred modules
TRIAGE_MAX_NAME_CHARS = 1024  # S18 refuses longer names
TRIAGE_MAX_DATA_BLOCKS = 4096

LAYOUT_FACTS.update({
    ("TRIAGE_DUMP64", "DriverListOffset"): 0x30,  # S10 offset comment, S18
    ("TRIAGE_DUMP64", "StringPoolOffset"): 0x38,  # S10, S18
    ("TRIAGE_DUMP64", "TopOfStack"): 0x48,  # S10
    ("TRIAGE_DUMP64", "DataPageAddress"): 0x60,  # S10
    ("TRIAGE_DUMP64", "DataBlocksOffset"): 0x78,  # S10
    ("TRIAGE_DUMP32", "TopOfStack"): 0x48,  # S10
    ("TRIAGE_DUMP32", "DataBlocksOffset"): 0x60,  # S10
    ("DUMP_DRIVER_ENTRY64", "DllBase"): 0x38,  # S18 (LdrEntry + 0x30)
    ("DUMP_DRIVER_ENTRY64", "SizeOfImage"): 0x48,  # S18
    ("DUMP_DRIVER_ENTRY64", "BaseDllName"): 0x60,  # S18
    ("DUMP_DRIVER_ENTRY32", "DllBase"): 0x1C,  # S18 (LdrEntry + 0x18)
    ("DUMP_DRIVER_ENTRY32", "SizeOfImage"): 0x24,  # S18
})
LAYOUT_SIZES.update({
    "TRIAGE_DUMP32": 0x68,  # S10 (last field DataBlocksCount at 0x64)
    "TRIAGE_DUMP64": 0x80,  # S10 (last field DataBlocksCount at 0x7C)
    "TRIAGE_DATA_BLOCK64": 0x10,  # S10
    "UNICODE_STRING64": 0x10,
    "UNICODE_STRING32": 0x8,
})
