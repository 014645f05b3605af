"""Call chains written into trace-log records and onto the crashing thread's stack.

The frames follow the stacks WinDbg printed in the two articles in ../shared/seeds
(Driver Verifier on Windows 8.1 x86: ``!verifier 80``; PoolHitTag on Windows 7
x64: ``k``). A frame names a function by a list of candidates: the first one the
platform's symbol table has is used, so each build gets names it really has. An
offset is kept below the function's extent (distance to the next symbol) so
``nt!Function+off`` symbolizes the same with the real symbol table.
"""
from __future__ import annotations

from dataclasses import dataclass

from .platforms.base import Platform
from .scenario import Site


@dataclass(frozen=True)
class Frame:
    module: str  # "nt" or "driver" (the allocating driver)
    functions: tuple[str, ...]
    offset: int


NT = "nt"
DRIVER = "driver"

# nt frames above a driver's IRP_MJ_DEVICE_CONTROL handler (article 1, ``!verifier 80``).
IOCTL_PATH = (
    Frame(NT, ("IovCallDriver",), 0x82),
    Frame(NT, ("IofCallDriver",), 0x62),
    Frame(NT, ("IopSynchronousServiceTail",), 0x16E),
    Frame(NT, ("IopXxxControlFile",), 0x3E8),
    Frame(NT, ("NtDeviceIoControlFile",), 0x2A),
    Frame(NT, ("KiSystemServicePostCall", "KiSystemServiceCopyEnd"), 0x0),
)
# nt frames above IRP_MJ_CLOSE when the process exits (article 1, the free stack).
CLOSE_PATH = (
    Frame(NT, ("IovCallDriver",), 0x82),
    Frame(NT, ("IofCallDriver",), 0x62),
    Frame(NT, ("IopDeleteFile",), 0xF4),
    Frame(NT, ("ObpRemoveObjectRoutine",), 0x43),
    Frame(NT, ("ObfDereferenceObjectWithTag", "ObfDereferenceObject"), 0x6B),
    Frame(NT, ("ExSweepHandleTable",), 0x95),
    Frame(NT, ("ObKillProcess",), 0x28),
    Frame(NT, ("PspRundownSingleProcess",), 0xF2),
    Frame(NT, ("PspExitThread",), 0x456),
    Frame(NT, ("KiSchedulerApcTerminate",), 0x1A),
)
# The verifier's allocate and free wrappers below the driver's call.
VERIFIER_ALLOCATE = (
    Frame(NT, ("XdvExAllocatePoolInternal", "VeAllocatePoolWithTagPriority", "ExAllocatePool2"), 0x17),
    Frame(NT, ("VerifierExAllocatePoolWithTag", "VerifierExAllocatePool2"), 0x24),
)
VERIFIER_FREE = (
    Frame(NT, ("ExFreePoolWithTag", "ExFreePool"), 0x7B1),
    Frame(NT, ("VerifierExFreePoolWithTag",), 0x3E),
)
PATHS = {"ioctl": IOCTL_PATH, "close": CLOSE_PATH}
# Frames of the driver between its allocating function and the dispatch entry,
# per path: (function, offset) in the driver's own symbol table (article 1).
DRIVER_FRAMES = {
    "ioctl": (("MyfaultDeviceControl", 0x13F), ("MyfaultDispatch", 0x5C)),
    "close": (),
}


class Symbolizer:
    """Turns frames into addresses for one machine."""

    def __init__(self, platform: Platform, kernel_base: int,
                 modules: dict[str, tuple[int, dict[str, int]]]) -> None:
        """``modules``: module name -> (base, function RVAs)."""
        self.platform = platform
        self.kernel_base = kernel_base
        self.modules = modules

    def nt(self, functions: tuple[str, ...], offset: int) -> int:
        address = self.nt_or_none(functions, offset)
        if address is None:
            raise KeyError(f"{self.platform.name} has none of {functions}")
        return address

    def nt_or_none(self, functions: tuple[str, ...], offset: int) -> int | None:
        for name in functions:
            fn = self.platform.functions.get(name)
            if fn is not None:
                return self.kernel_base + fn.rva + (offset if offset < fn.extent else offset % fn.extent)
        return None

    def site(self, site: Site) -> int:
        if site.module == NT:
            return self.nt((site.function,), site.offset)
        base, functions = self.modules[site.module]
        return base + (functions[site.function] if site.function else 0) + site.offset

    def frame(self, frame: Frame, driver: str) -> int:
        if frame.module == NT:
            return self.nt(frame.functions, frame.offset)
        return self.site(Site(driver, frame.functions[0], frame.offset))

    def driver_chain(self, site: Site, path: str) -> list[int]:
        """The driver's own frames from the call site up to its dispatch routine."""
        chain = [self.site(site)]
        _, functions = self.modules[site.module]
        for function, offset in DRIVER_FRAMES[path]:
            if function in functions:
                chain.append(self.site(Site(site.module, function, offset)))
        return chain

    def _path(self, frames: tuple[Frame, ...], verified: bool) -> list[int]:
        """The nt frames of a path that this build has (a frame none of whose
        candidate names exists is left out; IovCallDriver only under the verifier)."""
        out = []
        for frame in frames:
            if frame.functions == ("IovCallDriver",) and not verified:
                continue
            address = self.nt_or_none(frame.functions, frame.offset)
            if address is not None:
                out.append(address)
        return out

    def allocation_stack(self, site: Site, path: str, verified: bool) -> list[int]:
        below = [self.frame(f, site.module) for f in VERIFIER_ALLOCATE] if verified else []
        return below + self.driver_chain(site, path) + self._path(PATHS[path], verified)

    def free_stack(self, site: Site) -> list[int]:
        below = [self.frame(f, site.module) for f in VERIFIER_FREE]
        return below + [self.site(site)] + self._path(CLOSE_PATH, True)
