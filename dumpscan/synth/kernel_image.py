"""The kernel, its loaded-module list and the globals a debugger reads first.

Writes: PE headers with RSDS records for ntoskrnl and every driver; a code page for
each call site used (with a CALL instruction before each return address, and the
tag immediates a driver passes to the allocator); PsLoadedModuleList; the
KDDEBUGGER_DATA64 block; KdVersionBlock; KUSER_SHARED_DATA at both of its
addresses; NtBuildLab/CmNtCSDVersion/KeNumberProcessors; the x64 low stub.

Sources: KDDEBUGGER_DATA64 offsets [V S9 Win32 metadata; Volatility3 kdbg.json];
PROCESSOR_START_BLOCK signature, CR3 (+0xA0) and LmTarget (+0x70) as Volatility3's
pdbscan.py reads them [V S5]; loader-entry and KUSER members by name from the
platform tables; call encodings E8 rel32 (CALL near) and 41 B8 imm32 (MOV r8d) /
68 imm32 (PUSH) from the Intel SDM vol. 2.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from .machine import Machine
from .memory import KERNEL_CODE, USER_READONLY, PAGE
from .pe import SCN_CODE, SCN_DATA, Section, build_headers
from .pool import PoolModel
from .scenario import Driver

KDBG_OWNER_TAG = 0x4742444B  # 'KDBG'
LOW_STUB_PFN = 1
PROCESSOR_START_BLOCK_SIGNATURE = bytes.fromhex("E9 4D 06 00 01 00 00 00".replace(" ", ""))
BUILD_LABS = {  # MODEL: the format of NtBuildLab strings of each release
    "win7-x64": "7601.24540.amd64fre.win7sp1_ldr_escrow.200102-1707",
    "win81-x86": "9600.17031.x86fre.winblue_gdr.140221-1952",
    "win10-x64": "19041.1.amd64fre.vb_release.191206-1406",
    "win11-x64": "22000.1.amd64fre.co_release.210604-1628",
    "win11-24h2-x64": "26100.1.amd64fre.ge_release.240331-1435",
}


@dataclass
class LoadedModule:
    name: str
    base: int
    size: int
    functions: dict[str, int]  # RVA by name (kernel: from the platform)
    entry_va: int = 0  # its loader entry


def place_modules(machine: Machine, drivers: tuple[Driver, ...]) -> list[LoadedModule]:
    """Kernel first, hal right after it, then the drivers that are or were loaded, in
    order (a driver unloaded before the crash still had an address while it ran)."""
    platform = machine.platform
    kernel = LoadedModule("ntoskrnl.exe", machine.layout.kernel_base, platform.kernel_image_size,
                          {name: fn.rva for name, fn in platform.functions.items()})
    hal_base = (kernel.base + kernel.size + 0x1FFFFF) & ~0x1FFFFF
    modules = [kernel, LoadedModule("hal.dll", hal_base, 0x6B000, {})]
    fixed = [(d.base, d.base + d.image_size) for d in drivers
             if (d.loaded or d.unloaded) and d.base is not None]
    next_base = machine.layout.driver_base
    for driver in drivers:
        if not (driver.loaded or driver.unloaded):
            continue
        base = driver.base
        if base is None:
            base = next_base
            while any(lo < base + driver.image_size and base < hi for lo, hi in fixed):
                base = (max(hi for lo, hi in fixed if lo < base + driver.image_size and base < hi)
                        + 0xFFFF) & ~0xFFFF
            next_base = (base + driver.image_size + 0xFFFF) & ~0xFFFF
        modules.append(LoadedModule(driver.name, base, driver.image_size, dict(driver.functions)))
    return modules


class KernelImageWriter:
    def __init__(self, machine: Machine, modules: list[LoadedModule],
                 drivers: dict[str, Driver], timestamp: int) -> None:
        self.m = machine
        self.modules = modules
        self.drivers = drivers
        self.timestamp = timestamp

    # -- images ---------------------------------------------------------------------
    def write_images(self) -> None:
        platform = self.m.platform
        major, minor = platform.version[:2]
        for module in self.modules:
            if module.name == "ntoskrnl.exe":
                pdb, guid, age = platform.pdb_name, platform.guid, platform.age
            else:
                driver = self.drivers.get(module.name)
                pdb = (driver.pdb if driver and driver.pdb else module.name.rsplit(".", 1)[0] + ".pdb")
                guid = driver.guid if driver and driver.guid else _guid_for(module.name)
                age = 1
            sections = (kernel_sections(platform) if module is self.modules[0]
                        else _driver_sections(module.size))
            headers = build_headers(
                machine=platform.machine, image_base=module.base, image_size=module.size,
                sections=sections, timestamp=self.timestamp, os_version=(major, minor),
                entry_point=0x1000, guid=guid, age=age, pdb_name=pdb,
                dll=module.name.endswith(".dll"))
            self.m.write(module.base, headers)

    def data_start(self, module: LoadedModule) -> int:
        """VA of the first writable section of a driver (its import address table)."""
        return module.base + _driver_sections(module.size)[1].rva

    def write_tag_immediates(self) -> None:
        """Each driver's code passes its tags to the allocator as immediates
        (``mov r8d, 'kaeL'`` on x64, ``push 'kaeL'`` on x86)."""
        for module in self.modules:
            driver = self.drivers.get(module.name)
            if not driver or not driver.tags:
                continue
            opcode = b"\x41\xb8" if self.m.ptr == 8 else b"\x68"
            code = b"".join(opcode + tag.encode("latin-1") + b"\x90" for tag in driver.tags)
            self.m.write(module.base + 0x1000, code, KERNEL_CODE)

    def write_call_sites(self, stacks: list[list[int]]) -> None:
        """Write the CALL before every return address of every stack; its target is the
        function of the frame below. Within a module: ``E8 rel32`` (CALL near).
        From a driver into another module: ``FF 15`` through an import-address-table
        slot in the driver's data (rel32 to the slot on x64, its address on x86).
        From nt into a driver (IRP dispatch): ``FF D0``, ``call rax``/``call eax``.
        [Intel SDM vol. 2, CALL; PE imports: Microsoft PE Format]"""
        calls = {(stack[i - 1], stack[i]) for stack in stacks for i in range(1, len(stack))}
        slots: dict[tuple[str, int], int] = {}
        for below, ret in sorted(calls):
            caller, callee = self.module_of(ret), self.module_of(below)
            if ret == 0 or caller is None:
                continue
            target = self.function_start(below)
            if callee is caller:
                rel = (target - ret) & 0xFFFFFFFF
                self.m.write(ret - 5, b"\xe8" + struct.pack("<I", rel), KERNEL_CODE)
            elif caller is self.modules[0]:
                self.m.write(ret - 2, b"\xff\xd0", KERNEL_CODE)
            else:
                slot = slots.get((caller.name, target))
                if slot is None:
                    slot = self.data_start(caller) + self.m.ptr * len(slots)
                    slots[(caller.name, target)] = slot
                    self.m.write_pointer(slot, target)
                operand = (slot - ret) & 0xFFFFFFFF if self.m.ptr == 8 else slot
                self.m.write(ret - 6, b"\xff\x15" + struct.pack("<I", operand), KERNEL_CODE)

    def module_of(self, va: int) -> LoadedModule | None:
        return next((m for m in self.modules if m.base <= va < m.base + m.size), None)

    def function_start(self, va: int) -> int:
        for module in self.modules:
            if module.base <= va < module.base + module.size:
                starts = [module.base + rva for rva in module.functions.values()
                          if module.base + rva <= va]
                return max(starts, default=va)
        return va

    # -- loader list ------------------------------------------------------------------
    def write_loader_list(self, pool: PoolModel) -> None:
        """PsLoadedModuleList: one loader entry per module, each followed in the same
        'MmLd' pool block by its full path (the base name points into it)."""
        entry_type = ("_KLDR_DATA_TABLE_ENTRY" if self.m.has("_KLDR_DATA_TABLE_ENTRY")
                      else "_LDR_DATA_TABLE_ENTRY")
        head = self.m.symbol("PsLoadedModuleList")
        entry_size = self.m.packer.sizeof(entry_type)
        paths = [_full_path(module.name) for module in self.modules]
        for module, path in zip(self.modules, paths):
            block = pool.allocate(size=entry_size + 2 * len(path) + 2, tag="MmLd",
                                  pool_type=0, owner="nt", caller=0, cpu=0)
            module.entry_va = block.va
        links = [head] + [m.entry_va for m in self.modules] + [head]
        for i, (module, path) in enumerate(zip(self.modules, paths)):
            path_va = module.entry_va + entry_size
            name_va = path_va + 2 * (len(path) - len(module.name))
            self.m.write(path_va, path.encode("utf-16-le") + b"\0\0")
            values = {
                "InLoadOrderLinks": {"Flink": links[i + 2], "Blink": links[i]},
                "DllBase": module.base,
                "EntryPoint": module.base + 0x1000,
                "SizeOfImage": module.size,
                "FullDllName": _unicode(path, path_va),
                "BaseDllName": _unicode(module.name, name_va),
            }
            if self.m.has(entry_type, "Flags"):
                values["Flags"] = 0x49104000  # MODEL: typical loader flags of a driver
            self.m.write_struct(module.entry_va, entry_type, values)
        self.m.write_struct(head, "_LIST_ENTRY", {"Flink": links[1], "Blink": links[-2]})

    # -- globals ---------------------------------------------------------------------------
    def write_globals(self, processors: int, system_time: int, uptime_100ns: int) -> None:
        platform = self.m.platform
        for rva in platform.symbols.values():  # the kernel's data pages are all resident
            self.m.space.map(self.m.layout.kernel_base + rva, 1)
        major, minor, build, _ = platform.version
        lab = BUILD_LABS[platform.name]
        self.m.write(self.m.symbol("NtBuildLab"), lab.encode() + b"\0")
        self.m.write_u32(self.m.symbol("CmNtCSDVersion"), 0x100 if platform.name == "win7-x64" else 0)
        self.m.write_u32(self.m.symbol("KeNumberProcessors"), processors)
        if "KeBootTime" in platform.symbols:
            self.m.write(self.m.symbol("KeBootTime"),
                         struct.pack("<Q", system_time - uptime_100ns))
        self._write_version_block(major, build)
        self._write_kdbg()
        self._write_kuser(major, minor, build, system_time, uptime_100ns)

    def _write_version_block(self, major: int, build: int) -> None:
        x64 = self.m.ptr == 8
        self.m.write_struct(self.m.symbol("KdVersionBlock"), "_DBGKD_GET_VERSION64", {
            "MajorVersion": 0xF, "MinorVersion": build, "ProtocolVersion": 6,
            "KdSecondaryVersion": 2, "Flags": 0x7 if x64 else 0x3,
            "MachineType": 0x8664 if x64 else 0x14C, "MaxPacketType": 0xC,
            "MaxStateChange": 3, "MaxManipulate": 0x33, "Simulation": 0,
            "KernBase": self._kd64(self.m.layout.kernel_base),
            "PsLoadedModuleList": self._kd64(self.m.symbol("PsLoadedModuleList")),
            "DebuggerDataList": self._kd64(self.m.symbol("KdDebuggerDataBlock")),
        })

    def _kd64(self, va: int) -> int:
        """KD structures hold 64-bit addresses; 32-bit ones are sign-extended (wdbgexts.h)."""
        if self.m.ptr == 4 and va & 0x80000000:
            return va | 0xFFFFFFFF00000000
        return va

    def _write_kdbg(self) -> None:
        """KDDEBUGGER_DATA64 in its decoded form (as the dump writer leaves it)."""
        kdbg = self.m.symbol("KdDebuggerDataBlock")
        data = bytearray(self.m.platform.kdbg_size)
        fields = {  # offset: value   [V S9; Volatility3 kdbg.json]
            0x00: kdbg, 0x08: kdbg,  # Header.List (a one-element list)
            0x18: self.m.layout.kernel_base,
            0x48: self.m.symbol("PsLoadedModuleList"),
            0x50: self.m.symbol("PsActiveProcessHead"),
            0x1B8: self.m.symbol("PoolTrackTable"),
            0x208: self.m.symbol("NtBuildLab"),
            0x218: self.m.symbol("KiProcessorBlock"),
            0x220: self.m.symbol("MmUnloadedDrivers"),
            0x228: self.m.symbol("MmLastUnloadedDriver"),
            0x248: self.m.symbol("MmVerifierData"),
            0x268: self.m.symbol("CmNtCSDVersion"),
        }
        if "MmSpecialPoolTag" in self.m.platform.symbols:
            fields[0x238] = self.m.symbol("MmSpecialPoolTag")
        for offset, value in fields.items():
            struct.pack_into("<Q", data, offset, self._kd64(value))
        struct.pack_into("<II", data, 0x10, KDBG_OWNER_TAG, len(data))
        struct.pack_into("<Q", data, 0x138, PAGE)  # MmPageSize
        self.m.write(kdbg, bytes(data))

    def _write_kuser(self, major: int, minor: int, build: int, system_time: int,
                     uptime_100ns: int) -> None:
        values = {
            "TickCountMultiplier": 0x0FA00000,
            "InterruptTime": {"LowPart": uptime_100ns & 0xFFFFFFFF,
                              "High1Time": uptime_100ns >> 32, "High2Time": uptime_100ns >> 32},
            "SystemTime": {"LowPart": system_time & 0xFFFFFFFF,
                           "High1Time": system_time >> 32, "High2Time": system_time >> 32},
            "ImageNumberLow": 0x8664 if self.m.ptr == 8 else 0x14C,
            "ImageNumberHigh": 0x8664 if self.m.ptr == 8 else 0x14C,
            "NtSystemRoot": "C:\\Windows".encode("utf-16-le"),
            "NtProductType": 1,  # NtProductWinNt
            "ProductTypeIsValid": 1,
            "NativeProcessorArchitecture": 9 if self.m.ptr == 8 else 0,
            "NtMajorVersion": major,
            "NtMinorVersion": minor,
            "NtBuildNumber": build,
            "NumberOfPhysicalPages": 0x3FF00,
        }
        fields = self.m.platform.types["_KUSER_SHARED_DATA"].fields
        values = {k: v for k, v in values.items() if k in fields}
        kuser = self.m.packer.pack("_KUSER_SHARED_DATA", values)
        self.m.write(self.m.layout.kuser_kernel, bytes(kuser))
        pfn = self.m.space.translate(self.m.layout.kuser_kernel) // PAGE
        self.m.space.map_page(self.m.layout.kuser_user, pfn, USER_READONLY)

    def write_low_stub(self) -> None:
        """PROCESSOR_START_BLOCK in low memory (x64): the real-mode jump, CR3 and the
        long-mode target inside the kernel."""
        if self.m.ptr != 8:
            return
        page = self.m.memory.reserve(LOW_STUB_PFN)
        page[0:8] = PROCESSOR_START_BLOCK_SIGNATURE
        struct.pack_into("<Q", page, 0x70, self.m.layout.kernel_base + 0x1000)
        struct.pack_into("<Q", page, 0xA0, self.m.space.dtb)


def _unicode(text: str, buffer: int) -> dict:
    length = 2 * len(text)
    return {"Length": length, "MaximumLength": length + 2, "Buffer": buffer}


def kernel_sections(platform) -> list[Section]:
    """The kernel's sections: executable ones covering every page of every function
    of the symbol table (its extent, at most 64 KB; runs less than 64 pages apart
    merged), writable
    data in between [MODEL: the real section table is not in the public symbols]."""
    pages = sorted({page for fn in platform.functions.values()
                    for page in range(fn.rva >> 12, ((fn.rva + min(fn.extent, 0x10000) - 1) >> 12) + 1)})
    runs: list[list[int]] = []
    for page in pages:
        if runs and page - runs[-1][1] <= 64:
            runs[-1][1] = page
        else:
            runs.append([page, page])
    sections, cursor = [], 0x1000
    for index, (first, last) in enumerate(runs):
        start, end = first << 12, (last + 1) << 12
        if start > cursor:
            sections.append(Section(".data" if index == 0 else f".data{index}", cursor,
                                    start - cursor, SCN_DATA))
        sections.append(Section(".text" if index == 0 else f"PAGE{index}", start, end - start,
                                SCN_CODE))
        cursor = end
    if cursor < platform.kernel_image_size:
        sections.append(Section("ALMOSTRO", cursor, platform.kernel_image_size - cursor, SCN_DATA))
    return sections


def _driver_sections(size: int) -> list[Section]:
    text_end = min(size, max(0x2000, (size * 3 // 4) & ~0xFFF))
    return [Section(".text", 0x1000, text_end - 0x1000, SCN_CODE),
            Section(".data", text_end, size - text_end, SCN_DATA)]


def _full_path(name: str) -> str:
    if name in ("ntoskrnl.exe", "hal.dll"):
        return "\\SystemRoot\\system32\\" + name
    return "\\SystemRoot\\system32\\drivers\\" + name


def _guid_for(name: str) -> str:
    """A stable made-up PDB GUID for a module that ships no symbols."""
    return hashlib.sha256(name.encode()).hexdigest()[:32].upper()
