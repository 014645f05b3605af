"""Loaded modules: PsLoadedModuleList -> loader entries (doc §5), each image's PE
section table (for code ranges), and MmUnloadedDrivers when the symbol table
describes ``_UNLOADED_DRIVERS``.

Entry type: ``_KLDR_DATA_TABLE_ENTRY`` when the ISF has it, else
``_LDR_DATA_TABLE_ENTRY`` (Windows 7/8.1 public PDBs lack the former; the members
used sit at the same offsets) [V S1, S4]. The list links InLoadOrderLinks; the first
entry is the kernel [M, universally relied upon].
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .common import MAX_LIST_ENTRIES, member, read_unicode_string, value_of
from .lists import walk_list
from .view import KernelView, MemoryAbsent

IMAGE_SCN_CNT_CODE = 0x20
IMAGE_SCN_MEM_EXECUTE = 0x20000000
MAX_SECTIONS = 96  # the PE format's practical maximum


@dataclass(frozen=True)
class Module:
    name: str  # BaseDllName
    base: int  # DllBase
    size: int  # SizeOfImage
    full_name: str = ""
    entry: int = 0  # address of the loader entry

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, va: int) -> bool:
        return self.base <= va < self.base + self.size


@dataclass(frozen=True)
class ModuleList:
    modules: tuple[Module, ...]
    entry_type: str
    head: int
    complete: bool
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    name: str
    start: int  # VA
    end: int
    characteristics: int

    @property
    def executable(self) -> bool:
        return bool(self.characteristics & (IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE))


def loader_entry_type(view: KernelView) -> str:
    return "_KLDR_DATA_TABLE_ENTRY" if view.has_type("_KLDR_DATA_TABLE_ENTRY") else "_LDR_DATA_TABLE_ENTRY"


def read_modules(view: KernelView, head: int | None = None) -> ModuleList:
    """Walk PsLoadedModuleList (``head``: the list head VA; default the symbol)."""
    entry_type = loader_entry_type(view)
    if head is None:
        head = view.symbol("PsLoadedModuleList")
    links_off, _ = member(view, entry_type, "InLoadOrderLinks")
    base_off, base_member = member(view, entry_type, "DllBase")
    size_off, size_member = member(view, entry_type, "SizeOfImage")
    name_off, _ = member(view, entry_type, "BaseDllName")
    full_off = member(view, entry_type, "FullDllName")[0] \
        if "FullDllName" in view.layout(entry_type).members else None
    entry_size = view.layout(entry_type).size
    walk = walk_list(view, head, "PsLoadedModuleList", MAX_LIST_ENTRIES)
    warnings = list(walk.warnings)
    modules: list[Module] = []
    bad_images: list[str] = []  # loader entries whose image cannot lie in kernel space
    for link in walk.items:
        entry = link - links_off
        try:
            raw = view.read(entry, entry_size)
        except MemoryAbsent:
            warnings.append(f"PsLoadedModuleList: loader entry {entry:#x} absent from the dump; skipped")
            continue
        base = view.canonical(value_of(raw, base_off, base_member))
        size = value_of(raw, size_off, size_member)
        if not view.in_kernel_space(base) or base + size - 1 > view.pointer_mask:
            bad_images.append(f"entry {entry:#x} (DllBase {base:#x}, SizeOfImage {size:#x})")
            continue
        try:
            name = read_unicode_string(view, entry + name_off)
        except MemoryAbsent:
            name = ""
            warnings.append(f"PsLoadedModuleList: the name of the module at {base:#x} is absent "
                            "from the dump")
        full = ""
        if full_off is not None:
            try:
                full = read_unicode_string(view, entry + full_off)
            except MemoryAbsent:
                pass
        if not name:
            name = full.rsplit("\\", 1)[-1] if full else f"module_{base:x}"
        modules.append(Module(name, base, size, full, entry))
    if bad_images:
        warnings.append(f"PsLoadedModuleList: {len(bad_images)} loader entries describe an image outside "
                        f"kernel space; skipped: {'; '.join(bad_images[:3])}"
                        f"{' ...' if len(bad_images) > 3 else ''}")
    if not modules and walk.complete and not bad_images:
        warnings.append(f"PsLoadedModuleList at {head:#x} is empty, but a running kernel always lists "
                        "itself: the list head is corrupt; no module is known (addresses are not "
                        "symbolized)")
    elif modules and modules[0].base != view.kernel_base:
        warnings.append(f"the first loaded module ({modules[0].name} at {modules[0].base:#x}) is not "
                        f"the kernel image at {view.kernel_base:#x}")
    return ModuleList(tuple(modules), entry_type, head, walk.complete, tuple(warnings))


def read_sections(view: KernelView, base: int) -> list[Section]:
    """The PE section table of the image loaded at ``base`` (Microsoft PE format:
    e_lfanew @0x3C; NumberOfSections @+6 and SizeOfOptionalHeader @+20 of the COFF
    header; 40-byte section headers after the optional header). [] if unreadable."""
    try:
        if view.read(base, 2) != b"MZ":
            return []
        nt = base + struct.unpack("<I", view.read(base + 0x3C, 4))[0]
        header = view.read(nt, 24)
        if header[:4] != b"PE\0\0":
            return []
        count = min(struct.unpack_from("<H", header, 6)[0], MAX_SECTIONS)
        optional_size = struct.unpack_from("<H", header, 20)[0]
        table = view.read(nt + 24 + optional_size, 40 * count)
    except MemoryAbsent:
        return []
    sections = []
    for index in range(count):
        raw = table[40 * index: 40 * index + 40]
        name = raw[:8].split(b"\0", 1)[0].decode("latin-1")
        virtual_size, virtual_address = struct.unpack_from("<II", raw, 8)
        characteristics = struct.unpack_from("<I", raw, 36)[0]
        start = base + virtual_address
        sections.append(Section(name, start, start + max(virtual_size, 1), characteristics))
    return sections


def code_ranges(view: KernelView, module: Module) -> list[tuple[int, int]]:
    """Executable ranges of a loaded image (its code sections); the whole image when
    the section table is unreadable."""
    ranges = [(s.start, min(s.end, module.end)) for s in read_sections(view, module.base)
              if s.executable and s.start < module.end]
    return ranges or [(module.base, module.end)]


