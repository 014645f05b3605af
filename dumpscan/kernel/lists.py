"""Bounded walks over the kernel's linked structures: LIST_ENTRY rings, SLIST
headers and their chains, RTL AVL trees.

Every walk has a cap and a visited set and says in a warning why it stopped early
(a cycle, a link into memory missing from the dump, the cap). Layouts come from
the symbol table; the encodings are those of windows-pool-structures.md §3.7
(SLIST) and §3.4 (RTL AVL: the real root is BalancedRoot.RightChild, the payload
follows the _RTL_BALANCED_LINKS at the next 8-byte boundary).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..symbols.isf import SymbolTableError
from .common import member, value_of
from .view import KernelView, MemoryAbsent


@dataclass(frozen=True)
class Walk:
    """Addresses a walk visited, in order, and why it stopped if it stopped early."""

    items: tuple[int, ...]
    complete: bool
    warnings: tuple[str, ...]


def walk_list(view: KernelView, head: int, what: str, cap: int) -> Walk:
    """Flink-walk the LIST_ENTRY ring at ``head``: the addresses of the LIST_ENTRY
    links of every element (the head excluded). When the Flink walk breaks (a cycle, a
    NULL link, an entry absent from the dump), the ring is walked back from the head
    along Blink up to the entries already found, so one bad link loses no entry beyond
    the one it corrupts; the walk is still reported incomplete."""
    flink_off, _ = member(view, "_LIST_ENTRY", "Flink")
    blink_off, _ = member(view, "_LIST_ENTRY", "Blink")
    items: list[int] = []
    seen = {head}
    warnings: list[str] = []
    try:
        link = view.read_pointer(head + flink_off)
    except MemoryAbsent:
        return Walk((), False, (f"{what}: list head {head:#x} absent from the dump",))
    if link == 0:
        return Walk((), True, ())
    link = view.canonical(link)
    problem = None
    while link != head:
        if link in seen:
            problem = f"{what}: the list loops back to {link:#x} after {len(items)} entries; walk stopped"
            break
        if len(items) >= cap:
            problem = f"{what}: more than {cap} entries; walk stopped at the cap"
            break
        if link == 0:
            problem = f"{what}: NULL link after {len(items)} entries; walk stopped"
            break
        seen.add(link)
        items.append(link)
        try:
            link = view.canonical(view.read_pointer(link + flink_off))
        except MemoryAbsent:
            problem = (f"{what}: entry {link:#x} absent from the dump after {len(items) - 1} entries; "
                       "walk stopped")
            break
    if problem is None:
        return Walk(tuple(items), True, tuple(warnings))
    warnings.append(problem)
    if len(items) < cap:
        back = _walk_back(view, head, blink_off, seen, cap - len(items))
        if back:
            items += reversed(back)
            warnings.append(f"{what}: walking Blink back from the head recovered {len(back)} more entries")
    return Walk(tuple(items), False, tuple(warnings))


def _walk_back(view: KernelView, head: int, blink_off: int, seen: set[int], cap: int) -> list[int]:
    """Entries from the tail of a ring back to the first one already ``seen``."""
    back: list[int] = []
    visited: set[int] = set()
    try:
        link = view.canonical(view.read_pointer(head + blink_off))
    except MemoryAbsent:
        return back
    while link and link not in seen and link not in visited and len(back) < cap:
        visited.add(link)
        back.append(link)
        try:
            link = view.canonical(view.read_pointer(link + blink_off))
        except MemoryAbsent:
            break
    return back


# -- SLIST ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SListHead:
    first: int  # address of the first entry, 0 if empty
    depth: int
    encoding: str  # "x86", "HeaderX64", "Header16", "Header8"


def decode_slist_header(view: KernelView, data: bytes, header_va: int) -> SListHead:
    """Decode an _SLIST_HEADER's bytes (doc §3.7):

    * x86: Next @0 (pointer), Depth;
    * x64 HeaderX64 (8.1+): first = NextEntry << 4 (i.e. qword1 & ~0xF);
    * x64 Windows 7 (Header8/Header16 union): HeaderType (bit 0 of qword1) set ->
      Header16: first = NextEntry << 4; clear -> Header8: first =
      (NextEntry << 4) | (header VA & 0xFFFFF80000000000).
    Bit positions and widths are the symbol table's."""
    layout = view.layout("_SLIST_HEADER")
    if view.pointer_size == 4:
        next_off = member(view, "_SLIST_HEADER", "Next")[0] if "Next" in layout.members else 0
        first = int.from_bytes(data[next_off:next_off + view.pointer_size], "little")
        depth = 0
        if "Depth" in layout.members:
            depth_off, depth_member = member(view, "_SLIST_HEADER", "Depth")
            depth = value_of(data, depth_off, depth_member)
        return SListHead(first, depth, "x86")
    if "Header16" in layout.members and "Header8" in layout.members:
        type_off, type_member = member(view, "_SLIST_HEADER", "Header16.HeaderType")
        if value_of(data, type_off, type_member):
            return _shifted(view, data, "Header16", 0, "Header16")
        region = header_va & 0xFFFFF80000000000
        return _shifted(view, data, "Header8", region, "Header8")
    if "HeaderX64" in layout.members:
        return _shifted(view, data, "HeaderX64", 0, "HeaderX64")
    raise SymbolTableError("_SLIST_HEADER has no known encoding (Next, HeaderX64, Header16/Header8)")


def _shifted(view: KernelView, data: bytes, view_name: str, high: int, encoding: str) -> SListHead:
    next_off, next_member = member(view, "_SLIST_HEADER", f"{view_name}.NextEntry")
    depth_off, depth_member = member(view, "_SLIST_HEADER", f"{view_name}.Depth")
    first = value_of(data, next_off, next_member) << 4
    if first:
        first |= high
    first &= (1 << 64) - 1
    return SListHead(view.canonical(first) if first else 0, value_of(data, depth_off, depth_member),
                     encoding)


def walk_chain(first: int, next_of: Callable[[int], int], what: str, cap: int) -> Walk:
    """Follow a NULL-terminated singly linked chain (SLIST entries, page headers):
    ``next_of(entry)`` returns the next entry's address (may raise MemoryAbsent)."""
    items: list[int] = []
    seen: set[int] = set()
    link = first
    while link:
        if link in seen:
            return Walk(tuple(items), False, (f"{what}: the chain loops back to {link:#x} after "
                                              f"{len(items)} entries; walk stopped",))
        if len(items) >= cap:
            return Walk(tuple(items), False, (f"{what}: more than {cap} entries; walk stopped "
                                              "at the cap",))
        if link == 0xFFFFFFFF or link == 0xFFFFFFFFFFFFFFFF:  # VI_POOL_FREELIST_END (2003)
            break
        seen.add(link)
        items.append(link)
        try:
            link = next_of(link)
        except MemoryAbsent:
            return Walk(tuple(items), False, (f"{what}: entry {link:#x} absent from the dump after "
                                              f"{len(items) - 1} entries; walk stopped",))
    return Walk(tuple(items), True, ())


# -- RTL AVL --------------------------------------------------------------------------
def avl_payload_offset(view: KernelView) -> int:
    """User data of an RTL generic-table node: after the _RTL_BALANCED_LINKS, 8-byte
    aligned (+0x20 x64, +0x10 x86) [V S4 avltable.c]."""
    size = view.layout("_RTL_BALANCED_LINKS").size
    return (size + 7) & ~7


def avl_inorder(view: KernelView, root: int, what: str, cap: int) -> Walk:
    """In-order walk of an RTL AVL (sub)tree from its real root (BalancedRoot.RightChild)."""
    left_off, _ = member(view, "_RTL_BALANCED_LINKS", "LeftChild")
    right_off, _ = member(view, "_RTL_BALANCED_LINKS", "RightChild")
    links_size = view.layout("_RTL_BALANCED_LINKS").size
    items: list[int] = []
    seen: set[int] = set()
    stack: list[int] = []
    children: dict[int, tuple[int, int]] = {}
    warnings: list[str] = []
    node = root
    while node or stack:
        while node:
            if node in seen:
                warnings.append(f"{what}: node {node:#x} reached twice (a cycle); walk stopped")
                return Walk(tuple(items), False, tuple(warnings))
            if len(seen) >= cap:
                warnings.append(f"{what}: more than {cap} nodes; walk stopped at the cap")
                return Walk(tuple(items), False, tuple(warnings))
            seen.add(node)
            try:
                raw = view.read(node, links_size)
            except MemoryAbsent:
                warnings.append(f"{what}: node {node:#x} absent from the dump; its subtree was skipped")
                node = 0
                break
            left = view.canonical(int.from_bytes(raw[left_off:left_off + view.pointer_size], "little"))
            right = view.canonical(int.from_bytes(raw[right_off:right_off + view.pointer_size], "little"))
            children[node] = (left, right)
            stack.append(node)
            node = left
        if not stack:
            break
        node = stack.pop()
        items.append(node)
        node = children[node][1]
    return Walk(tuple(items), not warnings, tuple(warnings))
