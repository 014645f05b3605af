"""Driver Verifier's pool allocate/free trace log (``!verifier 0x80``, doc §3.8).

``*VfPoolTraces`` -> ring of ``VfPoolTracesLength`` ``_VF_POOL_TRACE`` records;
``VfPoolTracesIndex`` is the running index, incremented before each store at
``Index & (Length-1)`` [M+]. Valid records: min(Index, Length); oldest first, the
oldest at ``(Index - valid + 1) & (Length-1)``. A record's stack is its non-zero
StackTrace frames. Records carry no direction flag: :func:`classify` tells an
allocation from a free by symbolizing the first frames [M].
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .common import canonical_array, member, read_global, read_table
from .modules import Module
from .view import KernelView

MAX_TRACE_RECORDS = 1 << 22
# slots read from the ring's start when Index and Length are both past the cap
FALLBACK_RECORDS = 1 << 16
CLASSIFY_FRAMES = 4  # how many leading frames may decide allocate/free
# Names of the kernel's allocate and free routines (doc §3.8): ExAllocatePool*,
# VeAllocatePool*, ExAllocateHeapPool, XdvExAllocatePoolInternal, ExpAllocateBigPool,
# VerifierExAllocatePool* / ExFreePool*, VerifierFreePool*, ViFreeTrackedPool,
# VfFreePoolNotification, ExFreeHeapPool, ExDeferredFreePool, ExpFreeBigPages.
ALLOCATE_NAME = re.compile(r"Alloc", re.IGNORECASE)
FREE_NAME = re.compile(r"Free", re.IGNORECASE)


@dataclass(frozen=True)
class TraceLog:
    address: int  # the ring's VA
    length: int  # VfPoolTracesLength
    index: int  # VfPoolTracesIndex
    valid: int  # min(Index, Length) (capped)
    slots: np.ndarray  # uint32 ring slot of each record, oldest first
    addresses: np.ndarray  # uint64
    sizes: np.ndarray  # uint64
    threads: np.ndarray  # uint64
    stacks: np.ndarray  # uint64 [records, depth]; zero frames included
    present: np.ndarray  # bool per record: its bytes were in the dump
    absent: tuple[tuple[int, int], ...]
    warnings: tuple[str, ...]
    rejected: int = 0  # slots read but dropped as holding no trace record (not absent)

    def stack(self, i: int) -> list[int]:
        return [int(f) for f in self.stacks[i] if f]

    def coverage(self) -> dict:
        return {"name": "VfPoolTraces", "address": self.address, "entries_expected": self.valid,
                "entries_requested": self.valid, "entries_read": int(self.present.sum()),
                "entries_absent": int((~self.present).sum()) - self.rejected,
                "entries_rejected": self.rejected,
                "absent_ranges": [[i, j] for i, j in self.absent]}


def read_trace_log(view: KernelView, max_records: int = MAX_TRACE_RECORDS,
                   modules: Sequence[Module] = ()) -> TraceLog | None:
    """None when the log is off (VfPoolTraces NULL, doc §3.8 [M]).

    Every record read must have a trace record's shape (:func:`record_shape`; its first
    stack frame inside one of ``modules`` when they include the kernel); the others are dropped
    as rejected, with a warning, and a log most of whose records fail is named as not
    looking like a trace log (a corrupt or shifted VfPoolTraces pointer)."""
    warnings: list[str] = []
    ring = view.canonical(view.read_pointer(view.symbol("VfPoolTraces")))
    if not ring:
        return None
    index = read_global(view, "VfPoolTracesIndex")
    length = read_global(view, "VfPoolTracesLength")
    type_name = "_VF_POOL_TRACE"
    size = view.layout(type_name).size
    if length == 0:
        warnings.append("VfPoolTraces is set but VfPoolTracesLength is 0")
    if length & (length - 1):
        warnings.append(f"VfPoolTracesLength {length:#x} is not a power of two; slots taken modulo it")
    if length > max_records:
        warnings.append(f"VfPoolTracesLength {length:#x} is implausible; only {max_records:#x} "
                        "records considered")
    ring_length = min(length, max_records)
    valid = min(index, ring_length)
    _, stack_member = member(view, type_name, "StackTrace")
    depth = stack_member.count
    stack_off, _ = member(view, type_name, "StackTrace")
    if valid:
        first = index - valid + 1
        order = np.arange(first, first + valid, dtype=np.int64)
        slots = order % length  # == order & (length - 1) for a power of two
        slots = slots[slots < ring_length]  # only when the length was capped
    else:
        slots = np.zeros(0, np.int64)
    if valid and not len(slots):
        # Length and Index both past the cap: no slot of the latest records lies under it.
        # The ring's start is still sound: read its first slots, keeping only those that
        # look like trace records (below).
        fallback = min(ring_length, FALLBACK_RECORDS)
        slots = np.arange(fallback, dtype=np.int64)
        valid = fallback
        warnings.append(f"trace log: VfPoolTracesIndex {index:#x} and VfPoolTracesLength {length:#x} "
                        f"both exceed the cap {max_records:#x}, so the latest records' slots are "
                        f"unknown; only the first {fallback:#x} slots were read, in slot order")
    # read only the slots that hold records: a ring not yet full (or whose length is
    # corrupt) costs what its records cost, not what its length claims
    low = int(slots.min()) if len(slots) else 0
    high = int(slots.max()) + 1 if len(slots) else 0
    table = read_table(view, "VfPoolTraces", ring + low * size, high - low, size, max_records)
    warnings.extend(table.warnings)
    slots_read = slots - low
    values = table.columns(view, type_name, ["Address", "Size", "Thread"])
    frames = np.zeros((table.requested, depth), dtype=np.uint64)
    for first, count, data in table.pieces():
        raw = np.frombuffer(data, dtype=np.uint8).reshape(count, size)
        block = np.ascontiguousarray(raw[:, stack_off:stack_off + depth * view.pointer_size])
        frames[first:first + count] = block.view("<u8" if view.pointer_size == 8 else "<u4")
    present = table.valid()[slots_read] if len(slots) else np.zeros(0, bool)
    if len(slots) and not present.all():
        warnings.append(f"trace log: {int((~present).sum())} of {valid} records absent from the dump")
    keep = slots_read[present] if len(slots) else slots_read
    rejected = 0
    if len(keep):
        # the pool routines that log are the kernel's: a module list without the kernel
        # (corrupt) cannot say where a first frame may lie
        known = modules if any(m.base == view.kernel_base for m in modules) else ()
        plausible = record_shape(view, values["Address"][keep], values["Size"][keep],
                                 values["Thread"][keep], frames[keep], known)
        if not plausible.all():
            bad = int((~plausible).sum())
            if length > max_records:
                # the ring's true length is unknown, so slots may lie past its end
                warnings.append(f"trace log: {bad} of {len(keep)} slots do not hold trace records and "
                                "the ring length is unknown; dropped (the order of the rest assumes the "
                                "ring never wrapped)")
            elif bad * 2 > len(keep):
                warnings.append(f"trace log: {bad} of {len(keep)} records at VfPoolTraces {ring:#x} do not "
                                f"have a trace record's shape ({SHAPE_TEXT}): the log does not look like "
                                "one (a corrupt or shifted VfPoolTraces pointer?); those records dropped")
            else:
                warnings.append(f"trace log: {bad} of {len(keep)} records do not have a trace record's "
                                f"shape ({SHAPE_TEXT}); dropped")
            present = present.copy()
            present[np.flatnonzero(present)[~plausible]] = False
            rejected = bad
            keep = keep[plausible]
    stacks = frames[keep]
    stacks = np.where(stacks != 0, canonical_array(view, stacks), np.uint64(0)) if stacks.size else stacks
    absent = tuple((i + low, j + low) for i, j in table.absent)
    return TraceLog(ring, length, index, valid, (keep + low).astype(np.uint32),
                    canonical_array(view, values["Address"][keep]), values["Size"][keep],
                    canonical_array(view, values["Thread"][keep]), stacks, present,
                    absent, tuple(warnings), rejected)


SHAPE_TEXT = ("Address 0 or a kernel block whose Size fits the address space, a kernel-space Thread, "
              "kernel-space stack frames, the first inside a loaded module")


def record_shape(view: KernelView, addresses: np.ndarray, sizes: np.ndarray, threads: np.ndarray,
                 stacks: np.ndarray, modules: Sequence[Module] = ()) -> np.ndarray:
    """Per record: has it a trace record's shape (doc §3.8)? Address 0 (a failed
    allocation is logged so) or a kernel-space block whose Size keeps it inside the address
    space; a kernel-space Thread; a first stack frame, and every non-zero one, in kernel
    space, the first inside one of ``modules`` when given (the pool routines log from
    loaded code)."""
    addresses = canonical_array(view, addresses)
    room = np.uint64(view.pointer_mask) - addresses + np.uint64(1)
    block = (addresses == 0) | (view.in_kernel_space_array(addresses) & (sizes <= room))
    stacks = canonical_array(view, stacks) if stacks.size else stacks.astype(np.uint64)
    first = stacks[:, 0] if stacks.size else np.zeros(len(addresses), np.uint64)
    shaped = (block & view.in_kernel_space_array(canonical_array(view, threads))
              & view.in_kernel_space_array(first)
              & ((stacks == 0) | view.in_kernel_space_array(stacks)).all(axis=1))
    spans = sorted((m.base, m.end) for m in modules if m.size and m.end <= 1 << 64)
    if spans:
        bases = np.array([b for b, _ in spans], dtype=np.uint64)
        ends = np.array([min(e, (1 << 64) - 1) for _, e in spans], dtype=np.uint64)
        at = np.searchsorted(bases, first, side="right") - 1
        inside = (at >= 0) & (first < ends[np.maximum(at, 0)])
        if len(spans) > 1 and (bases[1:] < ends[:-1]).any():  # overlapping images: test them all
            inside = ((first[:, None] >= bases) & (first[:, None] < ends)).any(axis=1)
        shaped &= inside
    return shaped


def classify(log: TraceLog, function_of: Callable[[int], tuple[str, str | None]],
             frames: int = CLASSIFY_FRAMES) -> tuple[list[str], list[str]]:
    """'allocate' or 'free' per record, oldest first, and warnings.

    The first of the leading ``frames`` non-zero frames that lies in the kernel (module
    label "nt") in a function whose name says Alloc or Free decides [M, doc §3.8].
    Frame addresses are symbolized once each. A record no frame decides is taken as
    the opposite of the previous record for the same address (allocate when none)."""
    lead = log.stacks[:, :frames] if log.stacks.size else np.zeros((0, frames), np.uint64)
    unique = np.unique(lead[lead != 0]) if lead.size else np.zeros(0, np.uint64)
    verdict_of: dict[int, str | None] = {}
    for address in unique.tolist():
        module, function = function_of(address)
        verdict = None
        if module == "nt" and function:
            if FREE_NAME.search(function):
                verdict = "free"
            elif ALLOCATE_NAME.search(function):
                verdict = "allocate"
        verdict_of[address] = verdict
    kinds: list[str] = []
    last: dict[int, str] = {}
    undecided = 0
    for row, address in zip(lead.tolist(), log.addresses.tolist()):
        kind = None
        for frame in row:
            if frame:
                kind = verdict_of.get(frame)
                if kind:
                    break
        if kind is None:
            undecided += 1
            kind = "free" if last.get(address) == "allocate" else "allocate"
        last[address] = kind
        kinds.append(kind)
    warnings = []
    if undecided:
        warnings.append(f"trace log: {undecided} records have no allocate/free routine among their first "
                        f"{frames} frames; classified by alternation")
    return kinds, warnings


