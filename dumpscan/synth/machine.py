"""Where things live on each synthetic machine: virtual-address regions and the
physical placement of the page-table root.

All values are MODEL choices typical of each Windows generation (not facts a
symbol table gives), except where a comment names a source:
* KUSER_SHARED_DATA is at 0xFFFFF78000000000 (x64) / 0xFFDF0000 (x86) in kernel
  space and 0x7FFE0000 in user space [V: Volatility3 windows.info, pitfalls doc §4].
* The page-table root (DTB) sits where Volatility3's DTB scan looks first
  (0x150000-0x2A0000); the self-referencing PML4 index is 0x1ED on Windows 7 and
  8.1 and randomized (0x100-0x1FE) on Windows 10 1607+ [pitfalls doc §2].
* The x86 addresses reproduce the Driver Verifier article in ../shared/seeds
  (nt near 0x81000000, myfault.sys at 0x98725000, paged pool blocks at 0x9ca00000).
* Windows 7 puts hal.dll below ntoskrnl; the factory places it after ntoskrnl so
  that Volatility3's low-stub scan does not take hal for the kernel [pitfalls doc].
"""
from __future__ import annotations

from dataclasses import dataclass

from .memory import KERNEL_DATA, PAGE, AddressSpace, PaeAddressSpace, PhysicalMemory, X64AddressSpace
from .platforms.base import Platform
from .structs import StructPacker


@dataclass(frozen=True)
class MachineMap:
    kernel_base: int
    driver_base: int  # first driver after the kernel and hal
    arenas: dict[str, int]  # "system" (tables allocated at boot), big/small paged/nonpaged pool
    stack_base: int  # the crashing thread's kernel stack (top of a 6-page stack)
    thread_base: int  # _ETHREAD addresses handed to trace records
    dtb_pfn: int
    self_ref_index: int  # x64 only
    kuser_kernel: int
    kuser_user: int = 0x7FFE0000


MAPS: dict[str, MachineMap] = {
    "win7-x64": MachineMap(
        kernel_base=0xFFFFF8000160F000,  # page aligned, as 7/8.1 kernels are
        driver_base=0xFFFFF88000E00000,
        arenas={"system": 0xFFFFFA8002000000,
                "nonpaged": 0xFFFFFA8004000000, "paged": 0xFFFFF8A004000000,
                "nonpaged_small": 0xFFFFFA8003000000, "paged_small": 0xFFFFF8A003000000},
        stack_base=0xFFFFF88004EC6000,  # the PoolHitTag article's stack: fffff880`04ec1680
        thread_base=0xFFFFFA8003D5B060,
        dtb_pfn=0x187, self_ref_index=0x1ED,
        kuser_kernel=0xFFFFF78000000000),
    "win81-x86": MachineMap(
        kernel_base=0x81000000,
        driver_base=0x8BC00000,
        arenas={"system": 0x85000000, "nonpaged": 0x86A00000, "paged": 0x9CA00000,
                "nonpaged_small": 0x86000000, "paged_small": 0x9C000000},
        stack_base=0x9F106000,
        thread_base=0x98090300,  # the article's allocating thread
        dtb_pfn=0x185, self_ref_index=0,
        kuser_kernel=0xFFDF0000),
    "win10-x64": MachineMap(
        kernel_base=0xFFFFF80572C00000,
        driver_base=0xFFFFF80574000000,
        arenas={"system": 0xFFFFB20C3E000000, "nonpaged": 0xFFFFB20C41000000, "paged": 0xFFFFC78F52000000,
                "nonpaged_small": 0xFFFFB20C40000000, "paged_small": 0xFFFFC78F51000000},
        stack_base=0xFFFFF98B1A2F6000,
        thread_base=0xFFFFB20C3F6C1080,
        dtb_pfn=0x1AD, self_ref_index=0x1A3,
        kuser_kernel=0xFFFFF78000000000),
    "win11-x64": MachineMap(
        kernel_base=0xFFFFF80631E00000,
        driver_base=0xFFFFF80633600000,
        arenas={"system": 0xFFFF9E0D7E000000, "nonpaged": 0xFFFF9E0D81000000, "paged": 0xFFFFD48A62000000,
                "nonpaged_small": 0xFFFF9E0D80000000, "paged_small": 0xFFFFD48A61000000},
        stack_base=0xFFFFE2868F4A6000,
        thread_base=0xFFFF9E0D7F2C4080,
        dtb_pfn=0x1AE, self_ref_index=0x14C,
        kuser_kernel=0xFFFFF78000000000),
    "win11-24h2-x64": MachineMap(
        kernel_base=0xFFFFF80152400000,
        driver_base=0xFFFFF80153C00000,
        arenas={"system": 0xFFFFA60B0E000000, "nonpaged": 0xFFFFA60B13000000, "paged": 0xFFFFD30F24000000,
                "nonpaged_small": 0xFFFFA60B12000000, "paged_small": 0xFFFFD30F23000000},
        stack_base=0xFFFFF30A55DD6000,
        thread_base=0xFFFFA60B10AC2080,
        dtb_pfn=0x1AB, self_ref_index=0x1E6,
        kuser_kernel=0xFFFFF78000000000),
}


class Machine:
    """The synthetic machine being built: memory, paging, layouts and addresses.

    Writers (kernel image, pool structures, crash state) go through this object so
    that every byte lands through the page tables and every offset comes from the
    platform's layout tables."""

    def __init__(self, platform: Platform, layout: MachineMap, ram: list[tuple[int, int]]) -> None:
        self.platform = platform
        self.layout = layout
        self.memory = PhysicalMemory(ram)
        if platform.machine == "x64":
            self.space: AddressSpace = X64AddressSpace(self.memory, layout.dtb_pfn, layout.self_ref_index)
        else:
            self.space = PaeAddressSpace(self.memory, layout.dtb_pfn)
        self.packer = StructPacker(platform)
        self.ptr = platform.pointer_size
        self.kernel_only_excluded: set[int] = set()  # pfns a kernel-only dump leaves out
        self._system_next = layout.arenas["system"]

    def system_allocation(self, size: int) -> int:
        """Nonpaged memory the kernel took at boot, outside pool tracking (the
        big-page and tag tables, the verifier's trace buffer) [M]."""
        va = self._system_next
        self._system_next += (size + PAGE - 1) & ~(PAGE - 1)
        return va

    @property
    def system_next(self) -> int:
        """The end of the boot-time allocations so far."""
        return self._system_next

    # -- addresses --------------------------------------------------------------
    def symbol(self, name: str) -> int:
        return self.layout.kernel_base + self.platform.symbols[name]

    def function(self, name: str) -> int:
        return self.layout.kernel_base + self.platform.functions[name].rva

    def has(self, type_name: str, member: str | None = None) -> bool:
        struct = self.platform.types.get(type_name)
        return struct is not None and (member is None or member in struct.fields)

    def canonical(self, va: int) -> int:
        return X64AddressSpace.canonical(va) if self.ptr == 8 else va & 0xFFFFFFFF

    # -- writing ----------------------------------------------------------------
    def write(self, va: int, data: bytes, flags: int = KERNEL_DATA) -> None:
        self.space.write(va, data, flags)

    def write_struct(self, va: int, type_name: str, values: dict) -> None:
        self.write(va, bytes(self.packer.pack(type_name, values)))

    def write_empty_list(self, symbol: str) -> None:
        """A LIST_ENTRY head global whose Flink and Blink point at itself."""
        head = self.symbol(symbol)
        self.write_struct(head, "_LIST_ENTRY", {"Flink": head, "Blink": head})

    def write_pointer(self, va: int, value: int) -> None:
        self.write(va, (value & ((1 << (8 * self.ptr)) - 1)).to_bytes(self.ptr, "little"))

    def write_u32(self, va: int, value: int) -> None:
        self.write(va, (value & 0xFFFFFFFF).to_bytes(4, "little"))

    def exclude_from_kernel_dump(self, va: int, size: int = PAGE) -> None:
        """Mark mapped pages as not written by a kernel-only dump (user memory,
        paged-out pool)."""
        page = va & ~(PAGE - 1)
        while page < va + size:
            if self.space.is_mapped(page):
                self.kernel_only_excluded.add(self.space.translate(page) // PAGE)
            page += PAGE
