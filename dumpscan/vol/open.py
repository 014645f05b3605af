"""Open a crash dump as a Volatility context, from what its header already says.

No scanning: the DTB comes from the dump header, the kernel base from the
KDDEBUGGER_DATA64 block the header points to (KernBase at +0x18 [V S9]) or, failing
that, from the first PsLoadedModuleList entry; the kernel's PDB identity from its
CodeView record; the symbol table from the symbol directories.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from volatility3.framework import contexts, exceptions
from volatility3.framework.layers import intel, physical

from ..dumpfile import CrashDump, open_dump
from ..kernel.view import KernelView, MemoryAbsent
from ..symbols.finder import find_symbol_table
from ..symbols.pe import read_codeview
from .layer import CrashDumpLayer

KDBG_OWNER_TAG = 0x4742444B  # 'KDBG'
KDBG_KERNBASE = 0x18  # KDDEBUGGER_DATA64.KernBase [V S9]


class KernelNotFound(Exception):
    """The kernel image could not be located from the dump header."""


@dataclass
class OpenedDump:
    dump: CrashDump
    view: KernelView
    context: contexts.Context
    layer_name: str
    warnings: list[str] = field(default_factory=list)


def open_kernel(path: str | Path, symbol_dirs: list[Path]) -> OpenedDump:
    """Open ``path`` and return a KernelView over its kernel address space."""
    dump = open_dump(path)
    header = dump.header
    context = contexts.Context()
    context.config["dumpscan.base.location"] = Path(path).resolve().as_uri()
    context.add_layer(physical.FileLayer(context, "dumpscan.base", "base_layer"))
    context.config["dumpscan.memory.base_layer"] = "base_layer"
    context.add_layer(CrashDumpLayer(context, "dumpscan.memory", "memory_layer", dump))
    if header.machine == "x64":
        layer_class = intel.WindowsIntel32e
    elif header.pae_enabled or header.pae_enabled is None:
        layer_class = intel.WindowsIntelPAE
    else:
        layer_class = intel.WindowsIntel
    context.config["dumpscan.kernel.memory_layer"] = "memory_layer"
    context.config["dumpscan.kernel.page_map_offset"] = header.dtb
    layer = layer_class(context, "dumpscan.kernel", "kernel_layer")
    context.add_layer(layer)

    def read(va: int, length: int) -> bytes:
        try:
            return layer.read(va & layer.address_mask, length)
        except exceptions.InvalidAddressException:
            raise MemoryAbsent(va, length) from None

    pointer_size = 8 if header.machine == "x64" else 4
    base = _kernel_base(read, header, pointer_size)
    pdb = read_codeview(read, base)
    symbols = find_symbol_table(pdb, symbol_dirs)
    view = KernelView(read, symbols, base)
    return OpenedDump(dump, view, context, "kernel_layer", list(dump.warnings))


def _kernel_base(read, header, pointer_size: int) -> int:
    kdbg = header.kd_debugger_data_block
    if kdbg:
        try:
            tag = struct.unpack("<I", read(kdbg + 0x10, 4))[0]
            if tag == KDBG_OWNER_TAG:
                base = struct.unpack("<Q", read(kdbg + KDBG_KERNBASE, 8))[0]
                base &= (1 << (8 * pointer_size)) - 1
                if read(base, 2) == b"MZ":
                    return _canonical(base, pointer_size)
        except MemoryAbsent:
            pass
    head = header.ps_loaded_module_list
    if head:
        try:
            fmt = "<Q" if pointer_size == 8 else "<I"
            first = struct.unpack(fmt, read(head, pointer_size))[0]
            entry = read(first, 0x80 if pointer_size == 8 else 0x40)
            for offset in range(0, len(entry), pointer_size):
                candidate = struct.unpack_from(fmt, entry, offset)[0]
                if candidate and candidate % 0x1000 == 0:
                    try:
                        if read(candidate, 2) == b"MZ":
                            return _canonical(candidate, pointer_size)
                    except MemoryAbsent:
                        continue
        except MemoryAbsent:
            pass
    raise KernelNotFound("cannot locate the kernel image: neither the KDBG block nor "
                         "PsLoadedModuleList named by the dump header is readable")


def _canonical(va: int, pointer_size: int) -> int:
    if pointer_size == 8 and va & (1 << 47):
        return va | 0xFFFF000000000000
    return va
