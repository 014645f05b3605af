"""Reader unit tests on a hand-made kernel: a KernelView over a dict of pages and a tiny
hand-written ISF document (Windows 10 x64-like layouts, plus Windows 7 and x86
SLIST variants). Nothing here comes from dumpscan.synth: the tests write bytes at
the offsets this file states, and the readers find them through the ISF.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np
import pytest

from dumpscan.dumpfile.reader import DumpHeader
from dumpscan.kernel.bigpool import read_big_pool
from dumpscan.kernel.common import read_table
from dumpscan.kernel.lists import avl_inorder, decode_slist_header, walk_chain, walk_list
from dumpscan.kernel.modules import read_modules
from dumpscan.kernel.poolhittag import CodeMap, decode_calls, scan_stack
from dumpscan.kernel.tagtables import read_tag_tables
from dumpscan.kernel.tracelog import classify, read_trace_log
from dumpscan.kernel.verifier import read_verifier
from dumpscan.kernel.view import PAGE, KernelView, MemoryAbsent
from dumpscan.symbols.isf import SymbolTable

KBASE = 0xFFFFF80000000000
DATA = KBASE + 0x100000  # where the globals live (RVA 0x100000 ...)

U8 = {"kind": "base", "name": "unsigned char"}
U16 = {"kind": "base", "name": "unsigned short"}
U32 = {"kind": "base", "name": "unsigned long"}
I32 = {"kind": "base", "name": "long"}
U64 = {"kind": "base", "name": "unsigned long long"}
PTR = {"kind": "pointer", "subtype": {"kind": "base", "name": "void"}}


def S(name: str, kind: str = "struct") -> dict:
    return {"kind": kind, "name": name}


def BF(base: dict, position: int, length: int) -> dict:
    return {"kind": "bitfield", "bit_position": position, "bit_length": length, "type": base}


def ARR(element: dict, count: int) -> dict:
    return {"kind": "array", "count": count, "subtype": element}


def T(size: int, fields: dict, kind: str = "struct") -> dict:
    return {"kind": kind, "size": size,
            "fields": {name: {"offset": offset, "type": spec} for name, (offset, spec) in fields.items()}}


SLIST_X64 = {
    "_SLIST_HEADER": T(0x10, {"Alignment": (0, U64), "Region": (8, U64),
                              "HeaderX64": (0, S("__hx64"))}, "union"),
    "__hx64": T(0x10, {"Depth": (0, BF(U64, 0, 16)), "Sequence": (0, BF(U64, 16, 48)),
                       "Reserved": (8, BF(U64, 0, 4)), "NextEntry": (8, BF(U64, 4, 60))}),
}
SLIST_WIN7 = {
    "_SLIST_HEADER": T(0x10, {"Alignment": (0, U64), "Region": (8, U64), "Header8": (0, S("__h8")),
                              "Header16": (0, S("__h16")), "HeaderX64": (0, S("__hx64"))}, "union"),
    "__h8": T(0x10, {"Depth": (0, BF(U64, 0, 16)), "Sequence": (0, BF(U64, 16, 9)),
                     "NextEntry": (0, BF(U64, 25, 39)), "HeaderType": (8, BF(U64, 0, 1)),
                     "Init": (8, BF(U64, 1, 1)), "Reserved": (8, BF(U64, 2, 59)),
                     "Region": (8, BF(U64, 61, 3))}),
    "__h16": T(0x10, {"Depth": (0, BF(U64, 0, 16)), "Sequence": (0, BF(U64, 16, 48)),
                      "HeaderType": (8, BF(U64, 0, 1)), "Init": (8, BF(U64, 1, 1)),
                      "Reserved": (8, BF(U64, 2, 2)), "NextEntry": (8, BF(U64, 4, 60))}),
    "__hx64": SLIST_X64["__hx64"],
}
SLIST_X86 = {
    "_SINGLE_LIST_ENTRY": T(4, {"Next": (0, PTR)}),
    "_SLIST_HEADER": T(8, {"Alignment": (0, U64), "Next": (0, S("_SINGLE_LIST_ENTRY")),
                           "Depth": (4, U16), "CpuId": (6, U16)}, "union"),
}

TYPES = {
    "_LIST_ENTRY": T(0x10, {"Flink": (0, PTR), "Blink": (8, PTR)}),
    "_UNICODE_STRING": T(0x10, {"Length": (0, U16), "MaximumLength": (2, U16), "Buffer": (8, PTR)}),
    "_KLDR_DATA_TABLE_ENTRY": T(0xA0, {"InLoadOrderLinks": (0, S("_LIST_ENTRY")), "DllBase": (0x30, PTR),
                                       "SizeOfImage": (0x40, U32),
                                       "FullDllName": (0x48, S("_UNICODE_STRING")),
                                       "BaseDllName": (0x58, S("_UNICODE_STRING"))}),
    "_POOL_TRACKER_BIG_PAGES": T(0x18, {"Va": (0, U64), "Key": (8, U32),
                                        "Pattern": (0xC, BF(U32, 0, 8)), "PoolType": (0xC, BF(U32, 8, 12)),
                                        "SlushSize": (0xC, BF(U32, 20, 12)), "NumberOfBytes": (0x10, U64)}),
    "_POOL_TRACKER_TABLE": T(0x38, {"Key": (0, I32), "NonPagedBytes": (8, U64), "NonPagedAllocs": (0x10, U64),
                                    "NonPagedFrees": (0x18, U64), "PagedBytes": (0x20, U64),
                                    "PagedAllocs": (0x28, U64), "PagedFrees": (0x30, U64)}),
    "_POOL_HEADER": T(0x10, {"PreviousSize": (0, BF(U16, 0, 8)), "PoolIndex": (0, BF(U16, 8, 8)),
                             "BlockSize": (2, BF(U16, 0, 8)), "PoolType": (2, BF(U16, 8, 8)),
                             "Ulong1": (0, U32), "PoolTag": (4, U32), "ProcessBilled": (8, PTR)}),
    "_MM_DRIVER_VERIFIER_DATA": T(0x60, {"Level": (0, U32), "AllocationsAttempted": (0x10, U32),
                                         "CurrentPagedPoolAllocations": (0x40, U32),
                                         "CurrentNonPagedPoolAllocations": (0x44, U32),
                                         "PagedBytes": (0x50, U64), "NonPagedBytes": (0x58, U64)}),
    "_VF_SUSPECT_DRIVER_ENTRY": T(0x28, {"Links": (0, S("_LIST_ENTRY")), "Loads": (0x10, U32),
                                         "Unloads": (0x14, U32), "BaseName": (0x18, S("_UNICODE_STRING"))}),
    "_VF_AVL_TREE": T(0x28, {"NodeRangeSize": (0, U64), "NodeCount": (8, U64), "Tables": (0x10, PTR),
                             "TablesNo": (0x18, U32)}),
    "_RTL_BALANCED_LINKS": T(0x20, {"Parent": (0, PTR), "LeftChild": (8, PTR), "RightChild": (0x10, PTR),
                                    "Balance": (0x18, U8)}),
    "_RTL_AVL_TABLE": T(0x68, {"BalancedRoot": (0, S("_RTL_BALANCED_LINKS")),
                               "NumberGenericTableElements": (0x2C, U32)}),
    "_VF_AVL_TABLE": T(0xC0, {"RtlTable": (0, S("_RTL_AVL_TABLE")), "ReservedNode": (0x68, PTR)}),
    "_VF_AVL_TREE_NODE": T(0x10, {"p": (0, PTR), "RangeSize": (8, U64)}),
    "_VF_AVL_TREE_NODE_EX": T(0x18, {"Base": (0, S("_VF_AVL_TREE_NODE")), "SessionId": (0x10, U32)}),
    "_VF_TARGET_DRIVER": T(0x40, {"TreeNode": (0, S("_VF_AVL_TREE_NODE_EX")), "VerifiedData": (0x38, PTR)}),
    "_VF_TARGET_VERIFIED_DRIVER_DATA": T(0x90, {
        "SuspectDriverEntry": (0, PTR), "Signature": (0x28, U64), "SeSigningLevel": (0x30, U8),
        "PoolPageHeaders": (0x40, S("_SLIST_HEADER", "union")), "PoolTrackers": (0x50, S("_SLIST_HEADER", "union")),
        "CurrentPagedPoolAllocations": (0x68, U32), "CurrentNonPagedPoolAllocations": (0x6C, U32),
        "PagedBytes": (0x78, U64), "NonPagedBytes": (0x80, U64)}),
    "_VI_POOL_PAGE_HEADER": T(0x18, {"NextPage": (0, PTR), "VerifierEntry": (8, PTR), "Signature": (0x10, U64)}),
    "_VI_POOL_ENTRY_INUSE": T(0x20, {"VirtualAddress": (0, PTR), "CallingAddress": (8, PTR),
                                     "NumberOfBytes": (0x10, U64), "Tag": (0x18, U64)}),
    "_VI_POOL_ENTRY": T(0x20, {"PageHeader": (0, S("_VI_POOL_PAGE_HEADER")),
                               "InUse": (0, S("_VI_POOL_ENTRY_INUSE")), "NextFree": (0, PTR)}),
    "_VF_POOL_TRACE": T(0x80, {"Address": (0, PTR), "Size": (8, U64), "Thread": (0x10, PTR),
                               "StackTrace": (0x18, ARR(PTR, 13))}),
    **SLIST_X64,
}

SYMBOLS = {  # RVA
    "PsLoadedModuleList": 0x100000, "PoolBigPageTable": 0x100010, "PoolBigPageTableSize": 0x100018,
    "ExpPoolBigEntriesInUse": 0x100020, "PoolTrackTable": 0x100028, "PoolTrackTableSize": 0x100030,
    "PoolTrackTableExpansion": 0x100038, "PoolTrackTableExpansionSize": 0x100040,
    "KeNumberProcessors": 0x100048, "PoolHitTag": 0x10004C, "VfPoolTraces": 0x100050,
    "VfPoolTracesIndex": 0x100058, "VfPoolTracesLength": 0x10005C,
    "ExPoolTagTables": 0x100100,  # 64 slots to the next symbol
    "MmVerifierData": 0x100300, "VfSuspectDriversList": 0x100360, "ViTargetDriversAvl": 0x100380,
    "NextData": 0x1003C0,
    # functions
    "KeBugCheckEx": 0x2000, "ExAllocatePoolWithTag": 0x3000, "ExFreePoolWithTag": 0x4000,
    "ExFreePool": 0x4000, "IopXxxControlFile": 0x5000, "VerifierExAllocatePoolWithTag": 0x6000,
}


def isf_document(pointer: int = 8, types: dict | None = None, symbols: dict | None = None) -> dict:
    base = {name: {"kind": kind, "size": size, "signed": signed, "endian": "little"}
            for name, (kind, size, signed) in {
                "unsigned char": ("char", 1, False), "unsigned short": ("int", 2, False),
                "unsigned long": ("int", 4, False), "long": ("int", 4, True),
                "unsigned long long": ("int", 8, False), "void": ("void", 0, True),
                "pointer": ("int", pointer, False)}.items()}
    return {"metadata": {"windows": {"pdb": {"database": "ntkrnlmp.pdb", "GUID": "0" * 32, "age": 1}}},
            "base_types": base, "user_types": types if types is not None else TYPES, "enums": {},
            "symbols": {name: {"address": rva} for name, rva in (symbols or SYMBOLS).items()}}


class Pages:
    """Sparse virtual memory: page VA -> bytearray; absent pages raise MemoryAbsent."""

    def __init__(self, pointer: int = 8) -> None:
        self.pages: dict[int, bytearray] = {}
        self.pointer = pointer
        self.reads = 0

    def write(self, va: int, data: bytes) -> None:
        position = 0
        while position < len(data):
            page = (va + position) & ~(PAGE - 1)
            offset = (va + position) - page
            chunk = min(len(data) - position, PAGE - offset)
            self.pages.setdefault(page, bytearray(PAGE))[offset:offset + chunk] = data[position:position + chunk]
            position += chunk

    def map(self, va: int, size: int) -> None:
        page = va & ~(PAGE - 1)
        while page < va + size:
            self.pages.setdefault(page, bytearray(PAGE))
            page += PAGE

    def drop(self, va: int) -> None:
        self.pages.pop(va & ~(PAGE - 1), None)

    def read(self, va: int, length: int) -> bytes:
        self.reads += 1
        out = bytearray()
        position = va
        end = va + length
        while position < end:
            page = position & ~(PAGE - 1)
            data = self.pages.get(page)
            if data is None:
                raise MemoryAbsent(va, length)
            chunk = min(end, page + PAGE) - position
            out += data[position - page:position - page + chunk]
            position += chunk
        return bytes(out)

    def ptr(self, va: int, value: int) -> None:
        self.write(va, value.to_bytes(self.pointer, "little"))

    def u32(self, va: int, value: int) -> None:
        self.write(va, (value & 0xFFFFFFFF).to_bytes(4, "little"))

    def u64(self, va: int, value: int) -> None:
        self.write(va, value.to_bytes(8, "little"))


def make_view(pages: Pages, document: dict | None = None, base: int = KBASE) -> KernelView:
    return KernelView(pages.read, SymbolTable(document or isf_document(pages.pointer)), base)


def sym(name: str) -> int:
    return KBASE + SYMBOLS[name]


class Arena:
    """Hands out kernel addresses for hand-built structures."""

    def __init__(self, start: int) -> None:
        self.next = start

    def take(self, size: int, align: int = 0x10) -> int:
        va = (self.next + align - 1) & ~(align - 1)
        self.next = va + size
        return va


def unicode(pages: Pages, arena: Arena, at: int, text: str) -> None:
    raw = text.encode("utf-16-le")
    buffer = arena.take(len(raw) + 2)
    pages.write(buffer, raw)
    pages.write(at, struct.pack("<HH4xQ", len(raw), len(raw) + 2, buffer))


@dataclass
class Kernel:
    """A minimal Windows-10-like kernel in a Pages memory."""

    pages: Pages = field(default_factory=Pages)
    arena: Arena = field(default_factory=lambda: Arena(0xFFFFA00000000000))

    def __post_init__(self) -> None:
        self.pages.map(DATA, 0x1000)
        self.pages.u32(sym("PoolHitTag"), 0xFFFFFF0F)
        self.pages.ptr(sym("PsLoadedModuleList"), sym("PsLoadedModuleList"))
        self.pages.ptr(sym("PsLoadedModuleList") + 8, sym("PsLoadedModuleList"))
        self.pages.ptr(sym("VfSuspectDriversList"), sym("VfSuspectDriversList"))
        self.pages.ptr(sym("VfSuspectDriversList") + 8, sym("VfSuspectDriversList"))
        self.pages.u32(sym("KeNumberProcessors"), 1)

    def view(self) -> KernelView:
        return make_view(self.pages)

    # -- modules ---------------------------------------------------------------------
    def modules(self, modules: list[tuple[str, int, int]]) -> list[int]:
        head = sym("PsLoadedModuleList")
        entries = [self.arena.take(0xA0) for _ in modules]
        links = [head] + entries + [head]
        for i, (name, base, size) in enumerate(modules):
            entry = entries[i]
            self.pages.ptr(entry, links[i + 2])
            self.pages.ptr(entry + 8, links[i])
            self.pages.ptr(entry + 0x30, base)
            self.pages.u32(entry + 0x40, size)
            unicode(self.pages, self.arena, entry + 0x48, "\\SystemRoot\\" + name)
            unicode(self.pages, self.arena, entry + 0x58, name)
        self.pages.ptr(head, links[1])
        self.pages.ptr(head + 8, links[-2])
        return entries

    # -- big pool ----------------------------------------------------------------------
    def big_pool(self, entries: np.ndarray, declared: int | None = None, in_use: int | None = None) -> int:
        """entries: structured array with va, key, pool_type, bytes (raw Va incl. free bit)."""
        table = np.zeros(len(entries), dtype=np.dtype({
            "names": ["va", "word", "bytes"], "formats": ["<u8", "<u8", "<u8"], "offsets": [0, 8, 16],
            "itemsize": 0x18}))
        table["va"] = entries["va"]
        table["word"] = entries["key"].astype(np.uint64) | (entries["pool_type"].astype(np.uint64) << np.uint64(40))
        table["bytes"] = entries["bytes"]
        va = self.arena.take(table.nbytes, PAGE)
        self.pages.write(va, table.tobytes())
        self.pages.ptr(sym("PoolBigPageTable"), va)
        self.pages.ptr(sym("PoolBigPageTableSize"), declared if declared is not None else len(entries))
        free = (entries["va"] & 1) != 0
        self.pages.u32(sym("ExpPoolBigEntriesInUse"), in_use if in_use is not None else int((~free).sum()))
        return va

    # -- tag tables ------------------------------------------------------------------------
    def tag_table(self, rows: dict[int, tuple[int, int, int, int, int, int]], size: int,
                  keys: dict[int, int] | None = None) -> int:
        """rows: index -> (key, np_allocs, np_frees, np_bytes, p_allocs, p_frees, p_bytes)."""
        buf = bytearray(0x38 * size)
        for index, (key, na, nf, nb, pa, pf, pb) in rows.items():
            struct.pack_into("<I4xQQQQQQ", buf, index * 0x38, key, nb & (2**64 - 1), na, nf,
                             pb & (2**64 - 1), pa, pf)
        va = self.arena.take(len(buf), PAGE)
        self.pages.write(va, bytes(buf))
        return va

    def tag_tables(self, tables: list[int], size: int, processors: int,
                   expansion: tuple[int, int] | None = None) -> None:
        self.pages.ptr(sym("PoolTrackTable"), tables[0])
        self.pages.ptr(sym("PoolTrackTableSize"), size)
        for i, va in enumerate(tables):
            self.pages.ptr(sym("ExPoolTagTables") + 8 * i, va)
        self.pages.u32(sym("KeNumberProcessors"), processors)
        if expansion:
            self.pages.ptr(sym("PoolTrackTableExpansion"), expansion[0])
            self.pages.ptr(sym("PoolTrackTableExpansionSize"), expansion[1])


def fake_dump(view: KernelView, *, machine: str = "x64", bugcheck: int = 0xD1,
              parameters: tuple = (0, 2, 0, 0), context: dict | None = None, processors: int = 1):
    """An object shaped like OpenedDump (``view``, ``dump``, ``warnings``)."""
    header = DumpHeader(
        bits=64 if machine == "x64" else 32, machine=machine, dump_type=1, summary_signature=None,
        major_version=0xF, minor_version=19041, dtb=0x1AD000, pfn_database=None,
        ps_loaded_module_list=sym("PsLoadedModuleList"), ps_active_process_head=None,
        machine_image_type=0x8664, number_processors=processors, bugcheck_code=bugcheck,
        bugcheck_parameters=parameters, kd_debugger_data_block=None, pae_enabled=None,
        system_time=0x01DA5E3F6A0BC000, system_up_time=3600 * 10_000_000, comment=None,
        context=context or {})

    class _Dump:
        pages_present = 1000
        bitmap_pages = 1000

    _Dump.header = header

    class _Opened:
        pass

    opened = _Opened()
    opened.view = view
    opened.dump = _Dump()
    opened.warnings = []
    return opened


# -- Driver Verifier ----------------------------------------------------------------------
SIGNATURE = 0x98761940
PAGE_SIGNATURE = 0x21321345


def slist_x64(first: int, depth: int) -> bytes:
    return struct.pack("<QQ", depth | (5 << 16), first)


def build_verifier(kernel: Kernel, level: int, drivers: list[dict], tables_no: int = 2,
                   node_count: int | None = None) -> dict:
    """drivers: {name, base, size, loaded, allocations: [(va, caller, nbytes, tag)],
    small: bool (blocks get a POOL_HEADER and trailer), extra_free: int}.
    Returns per-driver info (data VA, slot VAs)."""
    pages, arena = kernel.pages, kernel.arena
    pages.u32(sym("MmVerifierData"), level)
    head = sym("VfSuspectDriversList")
    suspects = [arena.take(0x28) for _ in drivers]
    links = [head] + suspects + [head]
    for i, d in enumerate(drivers):
        pages.ptr(suspects[i], links[i + 2])
        pages.ptr(suspects[i] + 8, links[i])
        pages.u32(suspects[i] + 0x10, 1 if d.get("loaded", True) else 0)
        unicode(pages, arena, suspects[i] + 0x18, d["name"])
    pages.ptr(head, links[1])
    pages.ptr(head + 8, links[-2])
    loaded = [(i, d) for i, d in enumerate(drivers) if d.get("loaded", True)]
    tables = arena.take(0xC0 * tables_no, 0x10)
    pages.map(tables, 0xC0 * tables_no)
    tree = sym("ViTargetDriversAvl")
    pages.u64(tree + 8, len(loaded) if node_count is None else node_count)
    pages.ptr(tree + 0x10, tables)
    pages.u32(tree + 0x18, tables_no)
    info = {}
    by_table: dict[int, list[int]] = {}
    for position, (i, d) in enumerate(loaded):
        node = arena.take(0x20 + 0x40)
        data = arena.take(0x90)
        pages.map(node, 0x60)
        pages.ptr(node + 0x20, d["base"])
        pages.u64(node + 0x28, d["size"])
        pages.ptr(node + 0x20 + 0x38, data)
        pages.ptr(data, suspects[i])
        pages.u64(data + 0x28, d.get("signature", SIGNATURE))
        info[d["name"]] = _tracker(kernel, data, d)
        by_table.setdefault(position % tables_no, []).append(node)
    for table, nodes in by_table.items():
        nodes.sort(key=lambda n: n)
        root = _subtree(pages, nodes, tables + table * 0xC0)
        pages.ptr(tables + table * 0xC0 + 0x10, root)
    return info


def _subtree(pages: Pages, nodes: list[int], parent: int) -> int:
    if not nodes:
        return 0
    middle = len(nodes) // 2
    node = nodes[middle]
    pages.ptr(node, parent)
    pages.ptr(node + 8, _subtree(pages, nodes[:middle], node))
    pages.ptr(node + 0x10, _subtree(pages, nodes[middle + 1:], node))
    return node


def _tracker(kernel: Kernel, data: int, d: dict) -> dict:
    """Tracker pages (127 slots each), outstanding slots for d['allocations'], every other
    slot on the free list (minus ``never_used`` ones left out with VA 0)."""
    pages, arena = kernel.pages, kernel.arena
    allocations = d.get("allocations", [])
    per_page = PAGE // 0x20
    count_pages = max(1, -(-len(allocations) // (per_page - 1)))
    tracker = [arena.take(PAGE, PAGE) for _ in range(count_pages)]
    blob = np.zeros((count_pages, PAGE), dtype=np.uint8)
    words = blob.view("<u8").reshape(count_pages, per_page, 4)
    for k, va in enumerate(tracker):
        words[k, 0, 0] = tracker[k - 1] if k else 0  # NextPage: the older page
        words[k, 0, 1] = data
        words[k, 0, 2] = PAGE_SIGNATURE
    slots = [tracker[k] + 0x20 * s for k in range(count_pages) for s in range(1, per_page)]
    used = slots[:len(allocations)]
    for slot, (va, caller, nbytes, tag) in zip(used, allocations):
        k, s = tracker.index(slot & ~(PAGE - 1)), (slot & (PAGE - 1)) // 0x20
        words[k, s] = (va, caller, nbytes, tag)
    free = slots[len(allocations):]
    never = d.get("never_used", 0)
    free = free[:len(free) - never] if never else free
    for position, slot in enumerate(free):  # top = free[-1]; each links to the one below
        k, s = tracker.index(slot & ~(PAGE - 1)), (slot & (PAGE - 1)) // 0x20
        words[k, s, 0] = free[position - 1] if position else 0
        words[k, s, 2] = 1
    for k, va in enumerate(tracker):
        pages.write(va, blob[k].tobytes())
    pages.write(data + 0x40, slist_x64(tracker[-1], len(tracker)))
    pages.write(data + 0x50, slist_x64(free[-1] if free else 0, len(free) & 0xFFFF))
    paged = sum(1 for a in allocations if a[0] >= 0xFFFFC00000000000)
    pages.u32(data + 0x68, paged)
    pages.u32(data + 0x6C, len(allocations) - paged)
    # block trailers
    for slot, (va, caller, nbytes, tag) in zip(used, allocations):
        if d.get("trailers", True):
            if va & (PAGE - 1) == 0:
                pages.ptr(va + nbytes - 8, slot)
            else:
                header = va - 0x10
                block = (nbytes + 0x10 + 0xF) // 0x10
                pages.write(header, struct.pack("<BBBBI", 0, 0, block, 2, tag & 0xFFFFFFFF))
                pages.ptr(header + block * 0x10 - 8, slot)
    return {"data": data, "slots": used, "pages": tracker, "free": free}


# =========================================================================================
# Tests
# =========================================================================================

BIG = np.dtype([("va", "<u8"), ("key", "<u4"), ("pool_type", "<u4"), ("bytes", "<u8")])
LEAK = int.from_bytes(b"Leak", "little")


# -- SLIST ----------------------------------------------------------------------------------
def test_slist_x64_headerx64():
    view = make_view(Pages())
    head = decode_slist_header(view, struct.pack("<QQ", 3 | (9 << 16), 0xFFFFA00000123450), 0xFFFF800000001000)
    assert (head.first, head.depth, head.encoding) == (0xFFFFA00000123450, 3, "HeaderX64")


def test_slist_win7_header16_and_header8():
    types = {**TYPES, **SLIST_WIN7}
    view = make_view(Pages(), isf_document(8, types))
    # Header16: HeaderType (bit 0) and Init (bit 1) set, NextEntry in bits 4-63
    head = decode_slist_header(view, struct.pack("<QQ", 2, 0xFFFFFA8003000020 | 3), 0xFFFFF80001000000)
    assert (head.first, head.depth, head.encoding) == (0xFFFFFA8003000020, 2, "Header16")
    # Header8: HeaderType clear; NextEntry (bits 25-63 of qword 0) holds address bits 4-42,
    # the high bits come from the header's own region
    target = 0xFFFFFA8003000020
    qword0 = 5 | (((target >> 4) & ((1 << 39) - 1)) << 25)
    head = decode_slist_header(view, struct.pack("<QQ", qword0, 0), 0xFFFFFA8000001000)
    assert (head.first, head.depth, head.encoding) == (target, 5, "Header8")


def test_slist_x86():
    pages = Pages(pointer=4)
    types = {**TYPES, **SLIST_X86}
    view = KernelView(pages.read, SymbolTable(isf_document(4, types)), 0x81000000)
    head = decode_slist_header(view, struct.pack("<IHH", 0x86A01230, 7, 1), 0x86000000)
    assert (head.first, head.depth, head.encoding) == (0x86A01230, 7, "x86")


def test_walk_chain_cycle_cap_and_absent():
    links = {1: 2, 2: 3, 3: 1}
    walk = walk_chain(1, links.__getitem__, "loop", cap=100)
    assert walk.items == (1, 2, 3) and not walk.complete and "loops back" in walk.warnings[0]
    walk = walk_chain(1, lambda x: x + 1, "long", cap=10)
    assert len(walk.items) == 10 and "cap" in walk.warnings[0]

    def absent(x):
        raise MemoryAbsent(x)
    walk = walk_chain(5, absent, "gone", cap=10)
    assert walk.items == (5,) and "absent" in walk.warnings[0]


# -- LIST_ENTRY / modules ----------------------------------------------------------------------
def test_modules_and_list_cycle():
    kernel = Kernel()
    entries = kernel.modules([("ntoskrnl.exe", KBASE, 0x800000), ("hal.dll", KBASE + 0x800000, 0x60000),
                              ("myfault.sys", 0xFFFFF80010000000, 0x7000)])
    listed = read_modules(kernel.view())
    assert [(m.name, m.base, m.size) for m in listed.modules] == [
        ("ntoskrnl.exe", KBASE, 0x800000), ("hal.dll", KBASE + 0x800000, 0x60000),
        ("myfault.sys", 0xFFFFF80010000000, 0x7000)]
    assert listed.complete and not listed.warnings
    kernel.pages.ptr(entries[2], entries[1])  # the last entry points back into the list
    listed = read_modules(kernel.view())
    assert len(listed.modules) == 3 and not listed.complete
    assert any("loops back" in w for w in listed.warnings)


def test_list_absent_entry():
    kernel = Kernel()
    entries = kernel.modules([("ntoskrnl.exe", KBASE, 0x800000), ("x.sys", 0xFFFFF80010000000, 0x1000)])
    kernel.pages.ptr(entries[0], 0xFFFFB00000000000)  # Flink into memory the dump lacks
    walk = walk_list(kernel.view(), sym("PsLoadedModuleList"), "PsLoadedModuleList", 100)
    assert not walk.complete and "absent" in walk.warnings[0]


# -- AVL ---------------------------------------------------------------------------------------
def test_avl_inorder_and_cycle():
    pages = Pages()
    nodes = [0xFFFFA00000010000 + 0x100 * i for i in range(7)]
    for n in nodes:
        pages.map(n, 0x20)
    root = _subtree(pages, nodes, 0xFFFFA00000000000)
    view = make_view(pages)
    walk = avl_inorder(view, root, "tree", 100)
    assert walk.items == tuple(nodes) and walk.complete
    pages.ptr(nodes[6] + 0x10, root)  # right child of the last node back to the root
    walk = avl_inorder(view, root, "tree", 100)
    assert not walk.complete and "cycle" in walk.warnings[0]
    assert len(walk.items) <= len(nodes)


# -- bulk tables ---------------------------------------------------------------------------------
def test_read_table_absent_pages_are_reported_not_zeroed():
    pages = Pages()
    base = 0xFFFFA00000100000
    pages.write(base, bytes(range(256)) * 48)  # 3 pages
    pages.drop(base + PAGE)
    view = make_view(pages)
    table = read_table(view, "T", base, 3 * PAGE // 0x18, 0x18)
    valid = table.valid()
    assert valid[:PAGE // 0x18].all() and not valid[PAGE // 0x18 + 1:2 * PAGE // 0x18].any()
    assert table.absent == ((PAGE // 0x18, 2 * PAGE // 0x18 + 1),)
    assert table.warnings == (f"table T: entries {PAGE // 0x18}..{2 * PAGE // 0x18} absent from the dump",)
    assert table.read == len(valid) - (table.absent[0][1] - table.absent[0][0])


def test_big_pool_entries_and_free_bit():
    kernel = Kernel()
    entries = np.zeros(8, BIG)
    entries[0] = (0xFFFFC00000200000, LEAK, 1, 0xFB000)
    entries[1] = (0xFFFFC00000400001, LEAK, 1, 0xFB000)  # freed: stale record
    entries[2] = (1, 0, 0, 0)  # never used
    entries[3] = (0xFFFFA00000300000, 0x80000000 | int.from_bytes(b"File", "little"), 0x200, 0x2000)
    for i in range(4, 8):
        entries[i] = (1, 0, 0, 0)
    kernel.big_pool(entries, in_use=2)
    big = read_big_pool(kernel.view())
    assert big.declared == 8 and big.read == 8 and big.in_use == 2 and not big.warnings
    rows = big.entries
    assert rows["va"].tolist() == [0xFFFFC00000200000, 0xFFFFC00000400000, 0xFFFFA00000300000]
    assert rows["free"].tolist() == [False, True, False]
    assert rows["pool_type"].tolist() == [1, 1, 0x200]
    assert rows["key"][2] == 0x80000000 | int.from_bytes(b"File", "little")


def test_big_pool_absurd_size_is_capped_and_absent_pages_reported():
    kernel = Kernel()
    entries = np.zeros(PAGE // 0x18 * 2, BIG)
    entries["va"] = 1
    entries[0] = (0xFFFFC00000200000, LEAK, 1, 0x1000)
    table = kernel.big_pool(entries, declared=1 << 32)
    big = read_big_pool(kernel.view(), max_entries=1 << 16)
    # not trusted: read as far as the memory has the shape of slots (340 entries, then
    # zeros), rounded down to a power of two
    assert big.declared == 1 << 32 and big.requested == 256
    assert any("implausible" in w and "entry 0x154 is no table slot" in w for w in big.warnings)
    assert big.entries["va"].tolist() == [0xFFFFC00000200000]
    assert big.read == big.requested
    assert big.address == table and big.coverage()["entries_absent"] == 0  # read at the table's VA


def test_big_pool_zero_filled_entries_are_unreadable_not_unused():
    kernel = Kernel()
    entries = np.zeros(PAGE // 0x18 * 3, BIG)
    entries["va"] = 1
    entries[0] = (0xFFFFC00000200000, LEAK, 1, 0x1000)
    entries[300] = (0xFFFFC00000400000, LEAK, 1, 0x2000)
    entries[200:220] = 0  # lost: every unused slot holds Va = 1
    kernel.big_pool(entries, declared=len(entries))
    big = read_big_pool(kernel.view())
    assert big.entries["va"].tolist() == [0xFFFFC00000200000, 0xFFFFC00000400000]
    assert big.zero_filled == ((200, 220),)
    assert big.in_use == 2
    assert any("entries 200..219 are all zero" in w for w in big.warnings)
    assert big.coverage()["entries_zero_filled"] == 20


# -- tag tables ------------------------------------------------------------------------------------
def test_tag_tables_sum_zero_keys_and_expansion():
    kernel = Kernel()
    irp = int.from_bytes(b"Irp ", "little")
    global_table = kernel.tag_table({3: (LEAK, 10, 4, 600, 0, 0, 0), 5: (irp, 1, 0, 16, 2, 2, 0)}, 9)
    # processor 1: Key left 0 at index 3 (takes the global key); more frees than allocations
    cpu1 = kernel.tag_table({3: (0, 1, 5, -400, 0, 0, 0)}, 9)
    expansion = kernel.tag_table({0: (int.from_bytes(b"Ovfx", "little"), 7, 0, 70, 0, 0, 0)}, 4)
    kernel.tag_tables([global_table, cpu1], 9, processors=2, expansion=(expansion, 4))
    totals = read_tag_tables(kernel.view(), 2)
    rows = {key: totals.row(i) for i, key in enumerate(totals.keys.tolist())}
    assert rows[LEAK] == {"paged_allocs": 0, "paged_frees": 0, "paged_bytes": 0,
                          "nonpaged_allocs": 11, "nonpaged_frees": 9, "nonpaged_bytes": 200}
    assert rows[irp]["paged_allocs"] == 2 and rows[irp]["nonpaged_bytes"] == 16
    assert rows[int.from_bytes(b"Ovfx", "little")]["nonpaged_allocs"] == 7
    assert [t.source for t in totals.tables] == ["PoolTrackTable", "ExPoolTagTables[1]",
                                                 "PoolTrackTableExpansion"]
    assert totals.tables[1].zero_keys_filled == 1


def test_tag_tables_negative_bytes_read_back_signed():
    kernel = Kernel()
    table = kernel.tag_table({0: (LEAK, 1, 2, -0x40, 0, 0, 0)}, 3)
    kernel.tag_tables([table], 3, processors=1)
    totals = read_tag_tables(kernel.view(), 1)
    assert totals.row(0)["nonpaged_bytes"] == -0x40
    assert any("negative" in w for w in totals.warnings)


@pytest.mark.parametrize("bad", ["global+8", "global+0x38", "user-space"])
def test_tag_tables_bogus_per_processor_slot_is_skipped(bad):
    """A slot pointing into the global table (mis-aligned, or shifted by whole entries so
    its keys disagree with the global ones) or out of kernel space is no per-processor
    table: one warning, and the real totals are untouched."""
    kernel = Kernel()
    rows = {i: (0x41414100 + i, i + 1, 0, 0x10 * (i + 1), 0, 0, 0) for i in range(8)}
    global_table = kernel.tag_table(rows, 9)
    cpu1 = kernel.tag_table({2: (0, 1, 0, 0x20, 0, 0, 0)}, 9)
    slot = {"global+8": global_table + 8, "global+0x38": global_table + 0x38,
            "user-space": 0x10000}[bad]
    kernel.tag_tables([global_table, cpu1, slot], 9, processors=3)
    totals = read_tag_tables(kernel.view(), 3)
    assert [t.source for t in totals.tables] == ["PoolTrackTable", "ExPoolTagTables[1]"]
    skipped = [w for w in totals.warnings if "ExPoolTagTables[2]" in w]
    assert len(skipped) == 1 and "skipped" in skipped[0], totals.warnings
    assert totals.keys.tolist() == [0x41414100 + i for i in range(8)]
    expected = [i + 1 + (i == 2) for i in range(8)]
    assert totals.values["nonpaged_allocs"].tolist() == expected


# -- verifier ---------------------------------------------------------------------------------------
def _verifier_kernel(**driver):
    kernel = Kernel()
    kernel.modules([("ntoskrnl.exe", KBASE, 0x800000), ("myfault.sys", 0xFFFFF80010000000, 0x7000)])
    blocks = [kernel.arena.take(0x40) + 0x10 for _ in range(5)]
    big = [kernel.arena.take(0x3000, PAGE) for _ in range(2)]
    for va in big:
        kernel.pages.map(va + 0x2000, PAGE)
    allocations = [(va, 0xFFFFF80010001634, 0x38, LEAK) for va in blocks] + \
                  [(va, 0xFFFFF80010001634, 0x3000, LEAK) for va in big]
    spec = {"name": "myfault.sys", "base": 0xFFFFF80010000000, "size": 0x7000,
            "allocations": allocations, **driver}
    info = build_verifier(kernel, 0x8, [spec, {"name": "fabrikam.sys", "base": 0, "size": 0,
                                               "loaded": False}])
    return kernel, info, allocations


def test_verifier_drivers_slots_and_trailers():
    kernel, info, allocations = _verifier_kernel()
    view = kernel.view()
    state = read_verifier(view, read_modules(view).modules)
    assert state.level == 8 and state.enabled
    assert [s.name for s in state.suspects] == ["myfault.sys", "fabrikam.sys"]
    assert [d.name for d in state.drivers] == ["myfault.sys"]
    driver = state.drivers[0]
    assert driver.signature_ok and driver.dll_base == 0xFFFFF80010000000
    assert sorted(driver.allocations["address"].tolist()) == sorted(a[0] for a in allocations)
    assert set(driver.allocations["trailer"].tolist()) == {1}  # all ok
    assert driver.free_slots == 127 - len(allocations)
    assert not [w for w in state.warnings if "trailer" in w or "counters" in w]


def test_verifier_never_used_slots_and_bad_trailer():
    kernel, info, allocations = _verifier_kernel(never_used=3)
    kernel.pages.ptr(allocations[-1][0] + 0x3000 - 8, 0xDEAD0)  # corrupt one trailer
    view = kernel.view()
    driver = read_verifier(view, read_modules(view).modules).drivers[0]
    assert len(driver.allocations) == len(allocations)  # VA-0 slots are not outstanding
    assert sorted(driver.allocations["trailer"].tolist()) == [1] * 6 + [2]
    assert any("does not point back" in w for w in driver.warnings)


def test_verifier_bad_signature_and_node_count():
    kernel, info, _ = _verifier_kernel(signature=0x1234)
    kernel.pages.u64(sym("ViTargetDriversAvl") + 8, 5)
    view = kernel.view()
    state = read_verifier(view, read_modules(view).modules)
    assert state.drivers[0].counters is None and not state.drivers[0].signature_ok
    assert any("Signature" in w for w in state.warnings)
    assert any("NodeCount says 5" in w for w in state.warnings)


def test_verifier_free_list_cycle_is_bounded():
    kernel, info, _ = _verifier_kernel()
    free = info["myfault.sys"]["free"]
    kernel.pages.ptr(free[0], free[-1])  # the bottom of the free list points at the top
    view = kernel.view()
    driver = read_verifier(view, read_modules(view).modules).drivers[0]
    assert any("loops back" in w for w in driver.warnings)


# -- trace log -----------------------------------------------------------------------------------
def test_trace_log_ring_order_and_classification():
    kernel = Kernel()
    ring = kernel.arena.take(0x80 * 8, PAGE)
    alloc_stack = [KBASE + 0x3000 + 0x17, 0xFFFFF80010001634]
    free_stack = [KBASE + 0x4000 + 0x11, 0xFFFFF80010001683]
    records = []
    for n in range(1, 12):  # 11 records in a ring of 8: index 11, slots 4..7,0..3 hold 4..11
        stack = alloc_stack if n % 2 else free_stack
        records.append((n, 0xFFFFC00000200000 + n * PAGE, stack))
        slot = n & 7
        kernel.pages.write(ring + slot * 0x80, struct.pack("<QQQ", records[-1][1], 0x40, 0x1234) +
                           struct.pack(f"<{len(stack)}Q", *stack))
    kernel.pages.ptr(sym("VfPoolTraces"), ring)
    kernel.pages.u32(sym("VfPoolTracesIndex"), 11)
    kernel.pages.u32(sym("VfPoolTracesLength"), 8)
    view = kernel.view()
    log = read_trace_log(view)
    assert log.valid == 8 and log.slots.tolist() == [4, 5, 6, 7, 0, 1, 2, 3]
    assert log.addresses.tolist() == [0xFFFFC00000200000 + n * PAGE for n in range(4, 12)]
    assert log.stack(0) == free_stack
    functions = {KBASE + 0x3017: ("nt", "ExAllocatePoolWithTag"), KBASE + 0x4011: ("nt", "ExFreePoolWithTag")}
    kinds, warnings = classify(log, lambda a: functions.get(a, ("myfault", None)))
    assert kinds == ["free", "allocate"] * 4 and not warnings


def test_trace_log_partial_ring_and_off():
    kernel = Kernel()
    kernel.pages.ptr(sym("VfPoolTraces"), 0)
    assert read_trace_log(kernel.view()) is None
    ring = kernel.arena.take(0x80 * 4, PAGE)
    kernel.pages.map(ring, 0x200)
    kernel.pages.ptr(sym("VfPoolTraces"), ring)
    kernel.pages.u32(sym("VfPoolTracesIndex"), 2)
    kernel.pages.u32(sym("VfPoolTracesLength"), 4)
    log = read_trace_log(kernel.view())
    assert log.valid == 2 and log.slots.tolist() == [1, 2]


# -- stack scan ---------------------------------------------------------------------------------
def test_decode_calls_forms():
    ret = 0x1000
    assert decode_calls(b"\x00\x00\xe8\x00\x01\x00\x00", ret, 64)[0] == ("E8 rel32", 0x1100)
    assert decode_calls(b"\x00\xff\x15\x10\x00\x00\x00", ret, 64)[0][0].startswith("FF /2")  # call [rip+x]
    assert decode_calls(b"\x00\x00\x00\x00\x00\xff\xd0", ret, 64)[0][0].startswith("FF /2")  # call rax
    assert decode_calls(b"\x00\x00\x00\x00\xff\x50\x08", ret, 64)[0][0].startswith("FF /2")  # call [rax+8]
    assert decode_calls(b"\x00\x00\x00\x00\x00\xff\xe0", ret, 64) == []  # jmp rax is no call
    assert decode_calls(b"\x00\x00\x00\x00\x00\x00\xcc", ret, 64) == []


def test_scan_stack_keeps_validated_return_addresses_only():
    pages = Pages()
    code = 0xFFFFF80000401000
    pages.map(code, 0x2000)
    # a call site: E8 to code+0x800 (in code), return address code+0x105
    pages.write(code + 0x100, b"\xe8" + struct.pack("<i", 0x800 - 0x105))
    # an E8 whose target lies outside every module: not a call
    pages.write(code + 0x200, b"\xe8" + struct.pack("<i", 0x7FFFFF00))
    # int 3 then the trap-frame RIP
    pages.write(code + 0x300, b"\xcc")
    stack = 0xFFFFF88000100000
    words = [0x2, code + 0x105, 0xFFFFFA8000000000, code + 0x205, code + 0x301, code + 0x105]
    pages.write(stack, struct.pack(f"<{len(words)}Q", *words))
    view = make_view(pages)
    frames, scanned, warnings = scan_stack(view, stack, CodeMap([(code, code + 0x2000)]))
    assert [f.return_address for f in frames] == [code + 0x105, code + 0x105]
    assert scanned == PAGE and not warnings  # stops at the first absent page


# -- attribution ------------------------------------------------------------------------------------
def test_pooltag_file_and_image_search():
    from dumpscan.analysis.attribution import attribute, parse_pooltag, search_images
    from dumpscan.kernel.modules import Module

    text = ("// comment\nLeak - myfault.sys - NotMyFault leak\nIrp  - <unknown> - Io, IRP packets\n"
            "rem nothing\nbad line\n")
    table = parse_pooltag(text)
    assert table[LEAK] == [("myfault.sys", "NotMyFault leak")]
    assert table[int.from_bytes(b"Irp ", "little")] == [("<unknown>", "Io, IRP packets")]
    pages = Pages()
    base = 0xFFFFF80010000000
    pages.write(base + 0x1001, b"\x41\xb8Leak\x90")  # mov r8d, 'kaeL' at an odd address
    pages.write(base + 0x3000, b"Lea2")  # page 0x2000 absent: skipped, not zeros
    view = make_view(pages)
    hits, warnings = search_images(view, [Module("myfault.sys", base, 0x4000)],
                                   [LEAK, 0x80000000 | int.from_bytes(b"Lea2", "little"), 0x20202020])
    assert hits == {LEAK: ["myfault.sys"], int.from_bytes(b"Lea2", "little"): ["myfault.sys"]}
    owners = attribute([LEAK], hits, table, {LEAK: {"myfault.sys"}})
    assert [(o.name, o.source) for o in owners[LEAK]] == [
        ("myfault.sys", "verifier"), ("myfault.sys", "pooltag"), ("myfault.sys", "image")]


# -- symbolization --------------------------------------------------------------------------------
def test_symbolizer_matches_the_schema_rule():
    from dumpscan.analysis.symbolize import Symbolizer
    from dumpscan.kernel.modules import Module
    from dumpscan.report.schema import symbolize

    modules = [Module("ntoskrnl.exe", KBASE, 0x10000), Module("myfault.sys", 0xFFFFF80010000000, 0x7000),
               Module("nosyms.sys", 0xFFFFF80020000000, 0x1000)]
    tables = {0: {"ExFreePool": 0x4000, "ExFreePoolWithTag": 0x4000, "KeBugCheckEx": 0x2000},
              1: {"PoolLeak": 0x1610, "DriverEntry": 0x1A00}}
    symbolizer = Symbolizer(modules, tables)
    reference = [(m.name, m.base, m.size, tables.get(i, {})) for i, m in enumerate(modules)]
    for address in (KBASE + 0x4011, KBASE + 0x2000, KBASE + 0x10, 0xFFFFF80010001634,
                    0xFFFFF80010001A05, 0xFFFFF80020000123, 0xFFFFF80030000000):
        assert symbolizer.symbol(address) == symbolize(address, reference)
    assert symbolizer.symbol(KBASE + 0x4011) == "nt!ExFreePoolWithTag+0x11"


# -- the engine over the hand-made kernel --------------------------------------------------------
def test_engine_partial_results_when_tables_are_missing():
    from dumpscan.analysis.engine import analyze_view

    kernel, info, allocations = _verifier_kernel()
    kernel.pages.ptr(sym("PoolBigPageTable"), 0xFFFFB00000000000)  # not in the dump
    kernel.pages.ptr(sym("PoolBigPageTableSize"), 0x400)
    report = analyze_view(fake_dump(kernel.view()), [])
    json.dumps(report)
    assert report["bigpool"] == []
    assert any("PoolBigPageTable: entries 0..1023 absent" in w for w in report["warnings"])
    assert report["coverage"]["tables"][0]["entries_absent"] == 0x400
    driver = next(d for d in report["verifier"]["drivers"] if d["name"] == "myfault.sys")
    assert len(driver["allocations"]) == len(allocations)
    assert {d["name"]: d["loaded"] for d in report["verifier"]["drivers"]} == {
        "fabrikam.sys": False, "myfault.sys": True}
    assert report["header"]["driver_verifier"].startswith("on, level 0x8 (Pool tracking)")


def test_engine_failed_section_becomes_a_warning():
    from dumpscan.analysis.engine import analyze_view

    kernel = Kernel()
    kernel.modules([("ntoskrnl.exe", KBASE, 0x800000)])
    symbols = {k: v for k, v in SYMBOLS.items() if k != "PoolTrackTable"}
    view = make_view(kernel.pages, isf_document(8, TYPES, symbols))
    report = analyze_view(fake_dump(view), [])
    assert report["tags"] == [] and report["verifier"] is None and report["pool_hit_tag"] is None
    assert any(w.startswith("pool tag tables: failed (SymbolTableError") for w in report["warnings"])
    assert report["header"]["driver_verifier"].startswith("off")


def test_engine_scale_one_million_big_entries_and_100k_tracked_blocks():
    """The speed target: a 1,000,000-entry big-pool table and 100,000 tracked allocations
    (plus a 64K-record trace ring) analyze end to end well under 30 s."""
    import time

    from dumpscan.analysis.engine import analyze_view

    n_big, n_alloc = 1_000_000, 100_000
    kernel = Kernel()
    kernel.modules([("ntoskrnl.exe", KBASE, 0x800000), ("myfault.sys", 0xFFFFF80010000000, 0x7000)])
    rng = np.random.default_rng(1)
    entries = np.zeros(n_big, BIG)
    entries["va"] = (np.uint64(0xFFFFC00000000000) + np.arange(n_big, dtype=np.uint64) * np.uint64(0x2000)
                     + (rng.random(n_big) < 0.2).astype(np.uint64))
    keys = rng.integers(0x41414141, 0x5A5A5A5A, 2000).astype(np.uint32)
    entries["key"] = keys[rng.integers(0, 2000, n_big)]
    entries["pool_type"] = rng.choice([0, 1, 0x200], n_big)
    entries["bytes"] = 0x1000 * rng.integers(1, 16, n_big)
    kernel.big_pool(entries)
    size = (1 << 12) + 1
    tables = [kernel.tag_table({i: (int(keys[i % 2000]) if cpu == 0 else 0, 100, 90, 0x1000, 50, 40, 0x2000)
                                for i in range(0, size - 1, 2)}, size) for cpu in range(4)]
    kernel.tag_tables(tables, size, processors=4)
    pool = kernel.arena.take(n_alloc * 0x40 + PAGE, PAGE)
    allocations = [(pool + i * 0x40 + 0x10, 0xFFFFF80010001634, 0x28, LEAK) for i in range(n_alloc)]
    build_verifier(kernel, 0x8, [{"name": "myfault.sys", "base": 0xFFFFF80010000000, "size": 0x7000,
                                  "allocations": allocations}])
    ring = kernel.arena.take(0x80 * 0x10000, PAGE)
    records = np.zeros((0x10000, 16), dtype="<u8")
    records[:, 0] = np.uint64(pool + 0x10) + np.arange(0x10000, dtype=np.uint64) * np.uint64(0x40)
    records[:, 1], records[:, 2], records[:, 3] = 0x28, 0xFFFFA00000001000, KBASE + 0x3017
    kernel.pages.write(ring, records.tobytes())
    kernel.pages.ptr(sym("VfPoolTraces"), ring)
    kernel.pages.u32(sym("VfPoolTracesIndex"), 0x11000)
    kernel.pages.u32(sym("VfPoolTracesLength"), 0x10000)
    started = time.perf_counter()
    report = analyze_view(fake_dump(kernel.view(), processors=4), [])
    elapsed = time.perf_counter() - started
    assert len(report["bigpool"]) == n_big
    assert len(report["verifier"]["drivers"][0]["allocations"]) == n_alloc
    assert len(report["verifier"]["trace_log"]) == 0x10000
    assert elapsed < 60, f"{elapsed:.1f} s"  # a guard against a hang; speed is benchmarks/'s


def test_engine_out_of_range_times_lose_only_themselves():
    """An absurd SystemTime or SystemUpTime is one warning each; the rest of the header stays."""
    from dataclasses import replace

    from dumpscan.analysis.engine import analyze_view

    kernel = Kernel()
    for system_time, up_time, gone in [(2**64 - 1, 3600 * 10_000_000, {"system_time"}),
                                       (0x01DA5E3F6A0BC000, 2**63, {"uptime", "uptime_seconds"}),
                                       (2**63, 2**64 - 1, {"system_time", "uptime"})]:
        opened = fake_dump(kernel.view())
        opened.dump.header = replace(opened.dump.header, system_time=system_time,
                                     system_up_time=up_time)
        report = analyze_view(opened, [])
        header = report["header"]
        assert header["machine"] == "x64" and header["bugcheck"].startswith("0x000000D1")
        assert not gone & set(header), header
        assert set(header) & {"system_time", "uptime"} == {"system_time", "uptime"} - gone
        times = [w for w in report["warnings"] if "SystemTime" in w or "SystemUpTime" in w]
        assert len(times) == len(gone & {"system_time", "uptime"}), times


def test_verifier_corrupt_avl_tables_are_summarised_and_masked():
    """Tables near the top of the address space and TablesNo = 4096: a few named absent
    tables, one summary, and no address past the pointer width."""
    kernel, _, _ = _verifier_kernel()
    kernel.pages.ptr(sym("ViTargetDriversAvl") + 0x10, 0xFFFFFFFFFFFFF000)
    kernel.pages.u32(sym("ViTargetDriversAvl") + 0x18, 0x1000)
    view = kernel.view()
    state = read_verifier(view, read_modules(view).modules)
    absent = [w for w in state.warnings if "ViTargetDriversAvl: table" in w]
    assert 1 <= len(absent) <= 4, absent
    assert any("likely corrupt" in w and "not walked" in w for w in state.warnings)
    for w in state.warnings:
        for word in w.replace(",", " ").replace("(", " ").replace(")", " ").split():
            if word.startswith("0x"):
                assert int(word, 16) < 2**64, w
    assert len(state.warnings) < 20


def test_trace_log_index_and_length_past_the_cap():
    """Index and Length both above the cap: a warning, the ring's first slots read, and
    the slots holding no trace record counted as rejected, not absent."""
    kernel = Kernel()
    ring = kernel.arena.take(0x80 * 16, PAGE)
    kernel.pages.map(ring, PAGE)
    stack = [KBASE + 0x3000 + 0x17, 0xFFFFF80010001634]
    for slot in range(6):
        kernel.pages.write(ring + slot * 0x80, struct.pack("<QQQ", 0xFFFFC00000200000 + slot * PAGE,
                                                           0x40, 0xFFFFA00000001000) +
                           struct.pack("<2Q", *stack))
    kernel.pages.ptr(sym("VfPoolTraces"), ring)
    kernel.pages.u32(sym("VfPoolTracesIndex"), 0xFFFFFFF0)
    kernel.pages.u32(sym("VfPoolTracesLength"), 0xFFFFFFFF)
    log = read_trace_log(kernel.view(), max_records=16)
    assert log.addresses.tolist() == [0xFFFFC00000200000 + slot * PAGE for slot in range(6)]
    assert any("both exceed the cap" in w for w in log.warnings), log.warnings
    coverage = log.coverage()
    assert coverage["entries_rejected"] == 10 and coverage["entries_absent"] == 0
    assert coverage["entries_read"] == 6


def test_tag_tables_absurd_processor_counts_are_capped():
    from dumpscan.kernel.tagtables import slot_bound

    kernel = Kernel()
    table = kernel.tag_table({0: (LEAK, 3, 1, 0x40, 0, 0, 0)}, 3)
    kernel.tag_tables([table], 3, processors=2)
    view = kernel.view()
    totals = read_tag_tables(view, 0x7FFFFFFF)
    bound = slot_bound(view)
    assert totals.processors == bound
    assert any("header NumberProcessors 0x7fffffff exceeds" in w and f"capped at {bound}" in w
               for w in totals.warnings), totals.warnings
    assert any("processor counts disagree" in w for w in totals.warnings)
    assert totals.row(0)["nonpaged_allocs"] == 3
    agree = read_tag_tables(view, 2)
    assert not any("processor" in w for w in agree.warnings), agree.warnings


def test_tag_warnings_escape_control_bytes():
    from dumpscan.kernel.common import tag_display

    assert tag_display(int.from_bytes(b"Ab\x00\x07", "little")) == "'Ab\\x00\\x07'"
    assert tag_display(int.from_bytes(b"Irp ", "little")) == "'Irp '"
    kernel = Kernel()
    odd = int.from_bytes(b"A\x00\x01\n", "little")
    global_table = kernel.tag_table({100: (odd, 2, 1, 0x40, 0, 0, 0)}, 147)
    cpu1 = kernel.arena.take(0x38 * 147, PAGE)
    kernel.pages.write(cpu1, bytes(PAGE))  # its entries past the first page are absent
    kernel.tag_tables([global_table, cpu1], 147, processors=2)
    totals = read_tag_tables(kernel.view(), 2)
    assert totals.is_partial(0)
    named = [w for w in totals.warnings if "are partial" in w]
    assert named and "'A\\x00\\x01\\x0a'" in named[0], totals.warnings
    assert all(ch >= " " for w in totals.warnings for ch in w), totals.warnings


def test_engine_pool_usage_sums_sound_rows_only():
    from dumpscan.analysis.engine import analyze_view

    kernel = Kernel()
    irp = int.from_bytes(b"Irp ", "little")
    table = kernel.tag_table({0: (LEAK, 3, 1, 0x100, 0, 0, 0), 1: (irp, 1, 2, -0x40, 0, 0, 0)}, 3)
    kernel.tag_tables([table], 3, processors=1)
    report = analyze_view(fake_dump(kernel.view()), [])
    usage = report["header"]["pool_usage"]
    assert usage["nonpaged_bytes"] == 0x100 and usage["nonpaged_rows_left_out"] == 1
    assert usage["paged_bytes"] == 0 and "paged_rows_left_out" not in usage
    assert any("pool usage:" in w and "1 rows" in w for w in report["warnings"])


def test_module_symbols_skip_bad_candidates_and_need_the_kernel_base(tmp_path):
    from dumpscan.analysis.symbolize import build_symbolizer, find_module_table
    from dumpscan.kernel.modules import Module
    from dumpscan.symbols.pe import PdbIdentity

    pdb = PdbIdentity("myfault.pdb", "0123456789ABCDEF0123456789ABCDEF", 1)
    folder = tmp_path / "windows" / "MyFault.pdb"  # the folder matched case-insensitively
    folder.mkdir(parents=True)
    (folder / f"{pdb.guid}-9.json.xz").write_bytes(b"not xz at all")  # unreadable: skipped
    document = isf_document(symbols={"PoolLeak": 0x1610})
    document["metadata"] = {"windows": {"pdb": {"database": pdb.name, "GUID": pdb.guid, "age": 1}}}
    (folder / f"{pdb.guid}-1-copy.json").write_text(json.dumps(document))
    table = find_module_table(pdb, [tmp_path])
    assert table is not None and table.symbols == {"PoolLeak": 0x1610}
    (tmp_path / "file-not-dir").write_text("")
    assert find_module_table(pdb, [tmp_path / "missing", tmp_path / "file-not-dir"]) is None
    # the kernel's symbols go to the module at the kernel base, not to module 0
    kernel = Kernel()
    modules = [Module("first.sys", 0xFFFFF80030000000, 0x1000), Module("ntoskrnl.exe", KBASE, 0x800000)]
    warnings: list[str] = []
    symbolizer = build_symbolizer(kernel.view(), modules, [tmp_path], warnings)
    assert 0 not in symbolizer.functions and 1 in symbolizer.functions
    assert symbolizer.function_of(KBASE + SYMBOLS["PoolHitTag"])[1] == "PoolHitTag"


def test_verifier_free_slots_found_by_next_free_at_its_own_offset():
    """A layout where _VI_POOL_ENTRY.NextFree does not share VirtualAddress's offset: free
    slots holding a stale address are still told free by their NextFree link, even with the
    PoolTrackers list lost."""
    kernel, info, allocations = _verifier_kernel()
    entry = TYPES["_VI_POOL_ENTRY"]
    types = dict(TYPES, _VI_POOL_ENTRY={**entry, "fields": {**entry["fields"],
                                                             "NextFree": {"offset": 0x18, "type": PTR}}})
    free = info["myfault.sys"]["free"]
    for slot in free:
        link = struct.unpack("<Q", kernel.pages.read(slot, 8))[0]
        kernel.pages.ptr(slot + 0x18, link)
        kernel.pages.ptr(slot, 0xFFFFA0000DEAD000)  # a stale VirtualAddress
    kernel.pages.ptr(free[0], 0)  # the bottom slot links nowhere: leave no stale address
    kernel.pages.write(info["myfault.sys"]["data"] + 0x50, slist_x64(0, 0))  # the free list is lost
    view = make_view(kernel.pages, isf_document(types=types))
    driver = read_verifier(view, read_modules(view).modules).drivers[0]
    assert sorted(driver.allocations["address"].tolist()) == sorted(a[0] for a in allocations)


def test_tag_tables_carry_their_rows():
    """read_tag_tables hands back each table's rows as summed (windows.pooltrack shows them):
    keys after the key-0 fill, raw counters by member, and which entries were read."""
    kernel = Kernel()
    global_table = kernel.tag_table({3: (LEAK, 10, 4, 600, 0, 0, 0)}, 9)
    cpu1 = kernel.tag_table({3: (0, 1, 5, -400, 0, 0, 0)}, 9)
    kernel.tag_tables([global_table, cpu1], 9, processors=2)
    totals = read_tag_tables(kernel.view(), 2)
    first, second = totals.tables
    assert first.keys[3] == LEAK and second.keys[3] == LEAK  # filled from the global table
    assert second.counters["NonPagedFrees"][3] == 5 and first.counters["NonPagedAllocs"][3] == 10
    assert first.valid.all() and len(second.valid) == 9
    summed = sum(int(t.counters["NonPagedAllocs"][t.valid & (t.keys == LEAK)].sum()) for t in totals.tables)
    assert summed == totals.row(0)["nonpaged_allocs"] == 11
