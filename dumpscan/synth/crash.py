"""The crash itself: bug check code and parameters, the exception, the context
record and the crashing thread's kernel stack.

Two crashes are modelled:
* ``notmyfault``: NotMyFault's "high IRQL fault": bug check 0xD1
  DRIVER_IRQL_NOT_LESS_OR_EQUAL (address, IRQL 2, read, faulting IP in myfault.sys)
  [V S12 bug check docs for the parameter meanings].
* ``poolhittag``: PoolHitTag matched inside the big-pool allocator with no debugger
  attached: ``int 3`` -> STATUS_BREAKPOINT unhandled -> bug check 0x1E
  KMODE_EXCEPTION_NOT_HANDLED (0x80000003, address of the int 3, 0, 0) [V S12 0x1E,
  DbgBreakPoint; doc §4]. The stack holds, below KeBugCheckEx, the exception
  dispatch frames, then the allocator's caller chain the PoolHitTag article shows:
  nt!ExAllocatePoolWithTag+0x82e, myfault+0x1634, myfault+0x1727,
  nt!IopXxxControlFile+0x607, nt!NtDeviceIoControlFile+0x56,
  nt!KiSystemServiceCopyEnd+0x13.
The context record is the one KeBugCheckEx captured (Rip/Eip at KeBugCheckEx) [M].
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .machine import Machine
from .memory import KERNEL_CODE, PAGE
from .stacks import Frame, Symbolizer

STACK_PAGES = 6

HIT_BREAK = Frame("nt", ("ExpAllocateBigPool", "ExAllocateHeapPool", "ExAllocatePoolWithTag"), 0x1B6)
HIT_DISPATCH = (
    Frame("nt", ("KiDispatchException",), 0x1A9),
    Frame("nt", ("KiExceptionDispatch",), 0xC2),
    Frame("nt", ("KiBreakpointTrap",), 0xF7),
)
HIT_CALLERS = (
    Frame("nt", ("ExAllocatePoolWithTag",), 0x82E),
    Frame("driver", ("PoolLeak",), 0x24),
    Frame("driver", ("MyfaultDeviceControl",), 0x87),
    Frame("nt", ("IopXxxControlFile",), 0x607),
    Frame("nt", ("NtDeviceIoControlFile",), 0x56),
    Frame("nt", ("KiSystemServiceCopyEnd", "KiSystemServicePostCall"), 0x13),
)
FAULT_CALLERS = (
    Frame("driver", ("MyfaultDispatch",), 0x5C),
    Frame("nt", ("IofCallDriver",), 0x62),
    Frame("nt", ("IopSynchronousServiceTail",), 0x16E),
    Frame("nt", ("IopXxxControlFile",), 0x3E8),
    Frame("nt", ("NtDeviceIoControlFile",), 0x2A),
    Frame("nt", ("KiSystemServiceCopyEnd", "KiSystemServicePostCall"), 0x13),
)


@dataclass
class CrashState:
    bugcheck_code: int
    parameters: tuple[int, int, int, int]
    context: dict[str, int]
    exception: dict | None
    stack: list[int] = field(default_factory=list)  # return addresses, from Rsp upward
    break_address: int | None = None
    # runs of [callee, return address, return address, ...]: each return address
    # follows a CALL to the function of the entry before it
    call_chains: list[list[int]] = field(default_factory=list)


class CrashWriter:
    def __init__(self, machine: Machine, symbolizer: Symbolizer, driver: str) -> None:
        self.m = machine
        self.sym = symbolizer
        self.driver = driver  # the module that triggered the crash (myfault.sys)

    def _address(self, frame: Frame) -> int:
        return self.sym.frame(frame, self.driver)

    def write(self, kind: str, fault_address: int) -> CrashState:
        if kind == "poolhittag":
            return self._pool_hit_tag()
        return self._irql_fault(fault_address)

    def _pool_hit_tag(self) -> CrashState:
        break_va = self._address(HIT_BREAK)
        self.m.write(break_va, b"\xcc", KERNEL_CODE)  # the inline `if (tag == PoolHitTag) int 3`
        dispatch = [self._address(f) for f in HIT_DISPATCH]
        callers = [self._address(f) for f in HIT_CALLERS]
        trap_rip = break_va + 1
        rsp = self._write_stack(dispatch, trap_rip, callers)
        context = self._context(rsp)
        return CrashState(0x1E, (0x80000003, break_va, 0, 0), context,
                          {"code": 0x80000003, "address": break_va, "parameters": []},
                          stack=dispatch + callers, break_address=break_va,
                          call_chains=[[self.m.function("KeBugCheckEx")] + dispatch, [break_va] + callers])

    def verifier_unload(self, name_va: int, data_va: int, outstanding: int) -> CrashState:
        """Driver Verifier found a driver unloading with pool allocations outstanding:
        bug check 0xC4, parameter 1 = 0x62, 2 = the driver's name, 3 = its verified-driver
        data, 4 = the number of allocations not freed [V S12 "Pool Tracking"; S17 for
        the parameter labels; doc §3.5 for the model of 2 and 3]."""
        rsp = self._write_stack([], self.m.function("KeBugCheckEx"), [])
        return CrashState(0xC4, (0x62, name_va, data_va, outstanding), self._context(rsp), None)

    def _irql_fault(self, fault_address: int) -> CrashState:
        fault_ip = self._address(Frame("driver", ("MyfaultDeviceControl",), 0x100))
        callers = [self._address(f) for f in FAULT_CALLERS]
        rsp = self._write_stack([], fault_ip, callers)
        context = self._context(rsp)
        return CrashState(0xD1, (fault_address, 2, 0, fault_ip), context, None,
                          stack=callers, call_chains=[[fault_ip] + callers])

    def _write_stack(self, below_trap: list[int], trap_ip: int, above_trap: list[int]) -> int:
        """Lay out frames from the stack pointer up: a few words of locals (values
        that are not code addresses), then each return address; a trap frame (its
        saved instruction pointer is not a return address) separates the two parts."""
        ptr = self.m.ptr
        words: list[int] = []
        locals_pattern = [0x2, self.m.layout.thread_base, 0x0, 0x1000]
        for ret in below_trap:
            words += locals_pattern[:3] + [ret]
        trap_frame = [0] * 12 + [trap_ip, 0x10, 0x282, 0]  # ... Rip, SegCs, EFlags, Rsp
        words += trap_frame
        for index, ret in enumerate(above_trap):
            words += locals_pattern[: 2 + index % 3] + [ret]
        top = self.m.layout.stack_base
        self.m.space.map(top - STACK_PAGES * PAGE, STACK_PAGES * PAGE)
        rsp = top - 0x800 - len(words) * ptr
        fmt = "<" + ("Q" if ptr == 8 else "I") * len(words)
        self.m.write(rsp, struct.pack(fmt, *[w & ((1 << (8 * ptr)) - 1) for w in words]))
        return rsp

    def _context(self, sp: int) -> dict[str, int]:
        """Registers as KeBugCheckEx captured them; "Rip"/"Rsp" name the instruction
        and stack pointers on both architectures (Eip/Esp on x86)."""
        rip = self.m.function("KeBugCheckEx")
        if self.m.ptr == 8:
            return {"Rip": rip, "Rsp": sp, "Rbp": sp + 0x80, "Rcx": 0, "EFlags": 0x282}
        return {"Eip": rip, "Esp": sp, "Ebp": sp + 0x40, "EFlags": 0x282}
