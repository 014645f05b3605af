"""What the dump header says about the kernel: its base, found without scanning.

The header names the KDDEBUGGER_DATA64 block (KernBase at +0x18, OwnerTag 'KDBG' at
+0x10 [V S9]) and PsLoadedModuleList, whose first entry is ntoskrnl's loader entry.
Either gives the kernel base in a few reads; both are tried, KDBG first.
"""
from __future__ import annotations

import struct
from collections.abc import Callable

from ..dumpfile import DumpHeader
from ..kernel.view import MemoryAbsent

KDBG_OWNER_TAG = 0x4742444B  # 'KDBG'
KDBG_TAG_OFFSET = 0x10
KDBG_KERNBASE = 0x18  # KDDEBUGGER_DATA64.KernBase [V S9]
# KLDR/LDR_DATA_TABLE_ENTRY: DllBase follows InLoadOrderLinks and two more LIST_ENTRYs
# (x64 +0x30, x86 +0x18); the scan below does not depend on the exact member offset.
LOADER_ENTRY_SPAN = {8: 0x80, 4: 0x40}

Read = Callable[[int, int], bytes]


def canonical(va: int, pointer_size: int) -> int:
    """Sign-extend a 48-bit x64 address, as the debugger prints it."""
    if pointer_size == 8 and va & (1 << 47):
        return va | 0xFFFF000000000000
    return va


def _is_mz(read: Read, va: int) -> bool:
    try:
        return read(va, 2) == b"MZ"
    except MemoryAbsent:
        return False


def kernel_base_from_kdbg(read: Read, header: DumpHeader, pointer_size: int) -> int | None:
    kdbg = header.kd_debugger_data_block
    if not kdbg:
        return None
    try:
        if struct.unpack("<I", read(kdbg + KDBG_TAG_OFFSET, 4))[0] != KDBG_OWNER_TAG:
            return None  # absent, or encoded (Windows 8+ without a debugger)
        base = struct.unpack("<Q", read(kdbg + KDBG_KERNBASE, 8))[0]
    except MemoryAbsent:
        return None
    base &= (1 << (8 * pointer_size)) - 1
    return canonical(base, pointer_size) if _is_mz(read, base) else None


def kernel_base_from_module_list(read: Read, header: DumpHeader, pointer_size: int) -> int | None:
    head = header.ps_loaded_module_list
    if not head:
        return None
    fmt = "<Q" if pointer_size == 8 else "<I"
    try:
        first = struct.unpack(fmt, read(head, pointer_size))[0]
        if not first or first == head:
            return None
        entry = read(first, LOADER_ENTRY_SPAN[pointer_size])
    except MemoryAbsent:
        return None
    for offset in range(2 * pointer_size, len(entry), pointer_size):
        candidate = struct.unpack_from(fmt, entry, offset)[0]
        if candidate and candidate % 0x1000 == 0 and _is_mz(read, candidate):
            return canonical(candidate, pointer_size)
    return None


def kernel_base_from_header(read: Read, header: DumpHeader, pointer_size: int) -> int | None:
    """The kernel base the header leads to (canonical), or None."""
    return (kernel_base_from_kdbg(read, header, pointer_size)
            or kernel_base_from_module_list(read, header, pointer_size))


def describe_kernel_pointers(header: DumpHeader) -> str:
    """'KdDebuggerDataBlock 0x… and PsLoadedModuleList 0x…' (or 'not set') for messages."""
    def text(value: int | None) -> str:
        return "not set" if value is None else f"0x{value:x}"
    return (f"KdDebuggerDataBlock {text(header.kd_debugger_data_block)}, "
            f"PsLoadedModuleList {text(header.ps_loaded_module_list)}")
