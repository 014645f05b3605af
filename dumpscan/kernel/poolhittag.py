"""PoolHitTag (doc §4) and, for a dump written at a PoolHitTag break, the break
address and the caller chain on the crashing thread's stack.

* ``PoolHitTag`` (ULONG): 0xFFFFFF0F (the default [V S4; both seed articles]) or 0
  (how the debugger documentation turns it off) means off.
* A PoolHitTag break with no debugger attached becomes bug check 0x1E
  KMODE_EXCEPTION_NOT_HANDLED with parameter 1 = 0x80000003 (STATUS_BREAKPOINT) and
  parameter 2 = the address of the ``int 3`` [V S12].
* Caller chain: the stack is scanned from the context record's stack pointer upward
  (pointer-aligned words, up to the kernel stack size or the first page missing from
  the dump) for return addresses: a word is kept when it lies in a loaded module's
  code section and the bytes just before it encode a CALL (Intel SDM vol. 2):
  ``E8 rel32`` whose target lies in a loaded module's code, or an ``FF /2`` form
  (``FF 15 disp32``; ModRM mod 00/01/10/11 with reg = 2, with SIB/disp8/disp32 as the
  ModRM demands). Trap-frame instruction pointers and stale data fail the test.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .common import read_global
from .view import KernelView, MemoryAbsent

DEFAULT_POOL_HIT_TAG = 0xFFFFFF0F
OFF_VALUES = (DEFAULT_POOL_HIT_TAG, 0)
KMODE_EXCEPTION_NOT_HANDLED = 0x1E
STATUS_BREAKPOINT = 0x80000003
STACK_SCAN_BYTES = {8: 0x6000, 4: 0x3000}  # KERNEL_STACK_SIZE x64 / x86


@dataclass(frozen=True)
class StackFrame:
    stack_address: int  # where on the stack the return address was found
    return_address: int
    call: str  # "E8 rel32", "FF /2 ..."
    call_target: int | None  # E8 only
    callee_match: bool | None  # E8 target == start of the function of the frame below


@dataclass(frozen=True)
class PoolHitBreak:
    address: int  # bug check parameter 2: the int 3
    stack_pointer: int
    scanned_bytes: int
    frames: tuple[StackFrame, ...]
    warnings: tuple[str, ...]

    @property
    def return_addresses(self) -> list[int]:
        return [f.return_address for f in self.frames]


@dataclass(frozen=True)
class PoolHitTag:
    key: int
    enabled: bool
    break_: PoolHitBreak | None
    warnings: tuple[str, ...]


class CodeMap:
    """Interval index of executable ranges: [(start, end)] of every loaded module."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        """``ranges`` outside 64-bit addresses (a corrupt image base or section) are left out."""
        ordered = sorted((start, end) for start, end in ranges if 0 <= start < end <= 1 << 64)
        self.starts = np.array([s for s, _ in ordered], dtype=np.uint64)
        self.ends = np.array([min(e, (1 << 64) - 1) for _, e in ordered], dtype=np.uint64)

    def contains(self, va: int) -> bool:
        if not len(self.starts):
            return False
        i = int(np.searchsorted(self.starts, np.uint64(va), side="right")) - 1
        return i >= 0 and va < int(self.ends[i])


def is_break(bugcheck_code: int | None, parameters: tuple | list) -> bool:
    return (bugcheck_code == KMODE_EXCEPTION_NOT_HANDLED and len(parameters) > 1
            and (parameters[0] or 0) & 0xFFFFFFFF == STATUS_BREAKPOINT)


def decode_calls(before: bytes, ret: int, bits: int) -> list[tuple[str, int | None]]:
    """Every CALL form that ends exactly at ``ret`` given the bytes before it: (form,
    E8 target or None), E8 first. ``bits``: address width, for the E8 target."""
    mask = (1 << bits) - 1
    out: list[tuple[str, int | None]] = []
    if len(before) >= 5 and before[-5] == 0xE8:
        rel = struct.unpack("<i", before[-4:])[0]
        out.append(("E8 rel32", (ret + rel) & mask))
    for length in (2, 3, 4, 6, 7):  # FF /2 with its ModRM-dictated tail
        if len(before) < length or before[-length] != 0xFF:
            continue
        modrm = before[-length + 1]
        if (modrm >> 3) & 7 != 2:
            continue
        mod, rm = modrm >> 6, modrm & 7
        sib = before[-length + 2] if length >= 3 else None
        tail = 0  # bytes after ModRM (SIB + displacement)
        if mod == 3:
            tail = 0
        elif mod == 0:
            if rm == 5:
                tail = 4
            elif rm == 4:
                tail = 1 + (4 if sib is not None and sib & 7 == 5 else 0)
        elif mod == 1:
            tail = 1 + (1 if rm == 4 else 0)
        else:
            tail = 4 + (1 if rm == 4 else 0)
        if 2 + tail == length:
            out.append((f"FF /2 ({length} bytes)", None))
    return out


def scan_stack(view: KernelView, sp: int, code: CodeMap, max_bytes: int | None = None,
               function_start: Callable[[int], int | None] | None = None,
               anchors: tuple[int, ...] = ()) -> tuple[list[StackFrame], int, list[str]]:
    """Return addresses on the stack from ``sp`` upward (see the module docstring).

    ``callee_match`` of an E8 frame (informational, never a filter): its target is the
    start of the function holding the frame below it, or of one of ``anchors`` (the
    context's instruction pointer, the break address: where the chain resumes across
    an exception)."""
    ptr = view.pointer_size
    bits = 8 * ptr
    limit = max_bytes or STACK_SCAN_BYTES[ptr]
    warnings: list[str] = []
    start = sp - sp % ptr
    data, absent = view.read_pages(start, limit)
    end = absent[0][0] if absent else limit
    if end == 0:
        return [], 0, [f"stack at {sp:#x} absent from the dump"]
    words = np.frombuffer(bytes(data[:end - end % ptr]), dtype="<u8" if ptr == 8 else "<u4")
    frames: list[StackFrame] = []
    previous: int | None = None
    anchor_starts = {function_start(a) for a in anchors} - {None} if function_start else set()
    cache: dict[int, bytes | None] = {}
    for position, value in enumerate(words.tolist()):
        value = view.canonical(value)
        if value < 8 or not code.contains(value):
            continue
        before = cache.get(value)
        if value not in cache:
            raw, missing = view.read_pages(value - 7, 7)
            before = None if missing else bytes(raw)
            cache[value] = before
        if before is None:
            continue
        call = None
        for form, target in decode_calls(before, value, bits):
            if target is not None:
                target = view.canonical(target)
                if not code.contains(target):
                    continue  # an E8 into no code is no call
            call = form, target
            break
        if call is None:
            continue
        form, target = call
        match = None
        if target is not None and function_start is not None:
            expected = set(anchor_starts)
            if previous is not None:
                expected.add(function_start(previous))
            expected.discard(None)
            match = (target in expected) if expected else None
        frames.append(StackFrame(start + position * ptr, value, form, target, match))
        previous = value
    return frames, end, warnings


def read_pool_hit_tag(view: KernelView, bugcheck_code: int | None, parameters: tuple | list,
                      context: dict, code: CodeMap,
                      function_start: Callable[[int], int | None] | None = None,
                      kernel_range: tuple[int, int] | None = None) -> PoolHitTag:
    warnings: list[str] = []
    key = read_global(view, "PoolHitTag")
    enabled = key not in OFF_VALUES
    hit_break = None
    if is_break(bugcheck_code, parameters):
        address = view.canonical(parameters[1] or 0)
        sp = context.get("Rsp") if view.pointer_size == 8 else context.get("Esp")
        break_warnings: list[str] = []
        if kernel_range and not kernel_range[0] <= address < kernel_range[1]:
            break_warnings.append(f"PoolHitTag break: the break address {address:#x} is not in the kernel")
        try:
            if view.read(address, 1) != b"\xcc":
                break_warnings.append(f"PoolHitTag break: no int 3 (0xCC) at {address:#x}")
        except MemoryAbsent:
            break_warnings.append(f"PoolHitTag break: the code at {address:#x} is absent from the dump")
        frames: list[StackFrame] = []
        scanned = 0
        if sp:
            rip = context.get("Rip") if view.pointer_size == 8 else context.get("Eip")
            anchors = tuple(view.canonical(a) for a in (rip, address) if a)
            frames, scanned, more = scan_stack(view, view.canonical(sp), code,
                                               function_start=function_start, anchors=anchors)
            break_warnings += more
        else:
            break_warnings.append("PoolHitTag break: the dump has no context record stack pointer; "
                                  "the caller chain cannot be scanned")
        if not enabled:
            break_warnings.append("bug check 0x1E/0x80000003 (a breakpoint) but PoolHitTag is off: "
                                  "not a PoolHitTag break")
        hit_break = PoolHitBreak(address, view.canonical(sp or 0), scanned, tuple(frames),
                                 tuple(break_warnings))
        warnings += break_warnings
    return PoolHitTag(key, enabled, hit_break, tuple(warnings))

