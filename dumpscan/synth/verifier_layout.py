"""Driver Verifier's pool-tracking structures in kernel memory.

Two phases: :meth:`VerifierLayoutWriter.allocate` takes the pool blocks the
verifier owns when drivers load (before the workload runs, as on a real machine);
:meth:`VerifierLayoutWriter.write` fills them from the final simulated state.

Chains (windows-pool-structures.md §3): VfSuspectDriversList (LIST_ENTRY of
_VF_SUSPECT_DRIVER_ENTRY); ViTargetDriversAvl (_VF_AVL_TREE) -> Tables ->
_VF_AVL_TABLE[TablesNo] -> RtlTable.BalancedRoot.RightChild -> RTL AVL nodes whose
payload (after the _RTL_BALANCED_LINKS, 8-byte aligned: +0x20 x64 / +0x10 x86
[V S4 avltable.c]) is a _VF_TARGET_DRIVER with TreeNode.p = DllBase and
TreeNode.RangeSize = SizeOfImage [M+] -> VerifiedData. How drivers spread over
the tables is unknown [M]: driver i goes to table i mod TablesNo.
Block tags: 'VfAT' (AVL tables and nodes), 'Vepp' (tracker pages), 'ViIn' (the trace
ring) [doc §3.4, §3.6, §3.8, M+]; the suspect entries and driver data are not
documented, the factory uses 'VfSd' and 'VfDd' [M].
"""
from __future__ import annotations

from dataclasses import dataclass

from .kernel_image import LoadedModule
from .machine import Machine
from .memory import PAGE
from .pool import PoolModel, TrackerSlot, VerifiedDriver
from .pool_layout import POOL_PAGE_SIGNATURE, VERIFIED_DRIVER_SIGNATURE
from .scenario import Driver


@dataclass
class _DriverBlocks:
    driver: Driver
    suspect: int = 0  # _VF_SUSPECT_DRIVER_ENTRY
    node: int = 0  # RTL AVL node (links + _VF_TARGET_DRIVER)
    data: int = 0  # _VF_TARGET_VERIFIED_DRIVER_DATA
    module: LoadedModule | None = None
    table: int = 0


class VerifierLayoutWriter:
    def __init__(self, machine: Machine, pool: PoolModel, modules: list[LoadedModule],
                 drivers: list[Driver], tables_no: int) -> None:
        self.m = machine
        self.pool = pool
        self.by_name = {module.name: module for module in modules}
        self.blocks = [_DriverBlocks(d) for d in drivers if d.verified]
        self.tables_no = tables_no
        self.links_size = 4 * self.m.ptr  # sizeof(_RTL_BALANCED_LINKS): 0x20 / 0x10
        self.tables_va = 0
        self.trace_va = 0

    # -- phase 1 ------------------------------------------------------------------------
    def allocate(self) -> None:
        packer = self.m.packer
        table_size = packer.sizeof("_VF_AVL_TABLE") * self.tables_no
        self.tables_va = self._alloc(table_size, "VfAT")
        loaded = 0
        for blocks in self.blocks:
            name_bytes = 2 * len(blocks.driver.name)
            blocks.suspect = self._alloc(packer.sizeof("_VF_SUSPECT_DRIVER_ENTRY") + name_bytes, "VfSd")
            if blocks.driver.loaded or blocks.driver.unloaded:
                blocks.module = self.by_name[blocks.driver.name]
                blocks.data = self._alloc(packer.sizeof("_VF_TARGET_VERIFIED_DRIVER_DATA"), "VfDd")
                self.pool.verify(blocks.driver.name)
            if blocks.driver.loaded:
                blocks.node = self._alloc(self.links_size + packer.sizeof("_VF_TARGET_DRIVER"), "VfAT")
                blocks.table = loaded % self.tables_no
                loaded += 1
        if self.pool.trace_length:
            size = self.pool.trace_length * packer.sizeof("_VF_POOL_TRACE")
            self.trace_va = self._alloc(size, "ViIn")  # a nonpaged 'ViIn' block [doc §3.8, M+]

    def unload_bugcheck(self, name: str) -> tuple[int, int]:
        """(address of the driver's name as a UNICODE_STRING, its verified-driver data):
        parameters 2 and 3 of bug check 0xC4/0x62 [doc §3.5, M+]."""
        blocks = next(b for b in self.blocks if b.driver.name == name)
        return blocks.suspect + self.m.packer.offsetof("_VF_SUSPECT_DRIVER_ENTRY.BaseName"), blocks.data

    def _alloc(self, size: int, tag: str) -> int:
        nx = 0x200 if "NonPagedPoolNx" in self.m.platform.enums["_POOL_TYPE"].constants else 0
        return self.pool.allocate(size=size, tag=tag, pool_type=nx, owner="nt",
                                  caller=0, cpu=0).va

    # -- phase 2 -------------------------------------------------------------------------
    def write(self, level: int, stats: dict[str, int]) -> None:
        self._write_mm_verifier_data(level, stats)
        self._write_suspect_list()
        self._write_avl_tree()
        for blocks in self.blocks:
            if blocks.data:  # a driver that unloaded with allocations keeps its data [M]
                self._write_driver_data(blocks, self.pool.verified[blocks.driver.name])
        self._write_trace_log()

    def _write_mm_verifier_data(self, level: int, stats: dict[str, int]) -> None:
        fields = self.m.platform.types["_MM_DRIVER_VERIFIER_DATA"].fields
        values = {k: v for k, v in stats.items() if k in fields}
        values["Level"] = level
        self.m.write_struct(self.m.symbol("MmVerifierData"), "_MM_DRIVER_VERIFIER_DATA", values)

    def _write_suspect_list(self) -> None:
        head = self.m.symbol("VfSuspectDriversList")
        entries = [b.suspect for b in self.blocks]
        links = [head] + entries + [head]
        size = self.m.packer.sizeof("_VF_SUSPECT_DRIVER_ENTRY")
        for i, blocks in enumerate(self.blocks):
            name = blocks.driver.name.encode("utf-16-le")
            buffer = blocks.suspect + size
            self.m.write(buffer, name)
            self.m.write_struct(blocks.suspect, "_VF_SUSPECT_DRIVER_ENTRY", {
                "Links": {"Flink": links[i + 2], "Blink": links[i]},
                "Loads": 1 if blocks.driver.loaded or blocks.driver.unloaded else 0,
                "Unloads": 1 if blocks.driver.unloaded else 0,
                "BaseName": {"Length": len(name), "MaximumLength": len(name), "Buffer": buffer},
            })
        self.m.write_struct(head, "_LIST_ENTRY", {"Flink": links[1], "Blink": links[-2]})

    def _write_avl_tree(self) -> None:
        loaded = [b for b in self.blocks if b.driver.loaded]
        node_size = self.links_size + self.m.packer.sizeof("_VF_TARGET_DRIVER")
        tree: dict = {"NodeCount": len(loaded), "Tables": self.tables_va,
                      "TablesNo": self.tables_no, "NodeRangeSize": 0x1000}
        if "u1" in self.m.platform.types["_VF_AVL_TREE"].fields:
            tree["u1"] = {"NodeSize": node_size}
        self._write_known("_VF_AVL_TREE", self.m.symbol("ViTargetDriversAvl"), tree)
        table_size = self.m.packer.sizeof("_VF_AVL_TABLE")
        for index in range(self.tables_no):
            table_va = self.tables_va + index * table_size
            members = sorted((b for b in loaded if b.table == index), key=lambda b: b.module.base)
            root = self._write_subtree(members, parent=table_va)
            self.m.write_struct(table_va, "_VF_AVL_TABLE", {"RtlTable": {
                "BalancedRoot": {"Parent": table_va, "RightChild": root},
                "NumberGenericTableElements": len(members),
                "DepthOfTree": _depth(len(members)),
            }})
        for blocks in loaded:
            self._write_target_driver(blocks)

    def _write_subtree(self, members: list[_DriverBlocks], parent: int) -> int:
        """A balanced binary search tree on DllBase; returns the root node VA."""
        if not members:
            return 0
        middle = len(members) // 2
        node = members[middle].node
        left = self._write_subtree(members[:middle], node)
        right = self._write_subtree(members[middle + 1:], node)
        self.m.write_struct(node, "_RTL_BALANCED_LINKS", {
            "Parent": parent, "LeftChild": left, "RightChild": right,
            "Balance": _depth(len(members) - middle - 1) - _depth(middle),
        })
        return node

    def _write_target_driver(self, blocks: _DriverBlocks) -> None:
        fields = self.m.platform.types["_VF_TARGET_DRIVER"].fields
        node_type = fields["TreeNode"][1]
        tree_node = {"p": blocks.module.base, "RangeSize": blocks.module.size}
        if node_type == "_VF_AVL_TREE_NODE_EX":
            tree_node = {"Base": tree_node, "SessionId": 0}
        values = {"TreeNode": tree_node, "VerifiedData": blocks.data}
        self.m.write_struct(blocks.node + self.links_size, "_VF_TARGET_DRIVER", values)

    def _write_driver_data(self, blocks: _DriverBlocks, state: VerifiedDriver) -> None:
        ptr = self.m.ptr
        values: dict = {"SuspectDriverEntry": blocks.suspect,
                        "Signature": VERIFIED_DRIVER_SIGNATURE}
        values.update(self.known_counters(state.counters))
        values["PoolPageHeaders"] = self._slist(
            [p.va for p in state.pages], state.page_pushes, blocks.data)
        values["PoolTrackers"] = self._slist(
            [s.va for s in state.free_slots], state.tracker_pushes, blocks.data)
        self._write_known("_VF_TARGET_VERIFIED_DRIVER_DATA", blocks.data, values)
        # tracker pages
        for position, page in enumerate(state.pages):
            older = state.pages[position - 1].va if position else 0
            buf = bytearray(PAGE)
            self.m.packer.write(buf, 0, "_VI_POOL_PAGE_HEADER", {
                "NextPage": older, "VerifierEntry": blocks.data,
                "Signature": POOL_PAGE_SIGNATURE})
            for slot in page.slots[1:]:
                self._write_slot(buf, slot)
            self.m.write(page.va, bytes(buf))
        # free-list links, top first: each free slot points at the next one down, in its
        # NextFree member (on every real build the first pointer, over VirtualAddress)
        next_free = self.m.packer.offsetof("_VI_POOL_ENTRY.NextFree")
        for position, slot in enumerate(state.free_slots):
            below = state.free_slots[position - 1].va if position else 0
            self.m.write_pointer(slot.va + next_free, below)
        # trailers of live tracked blocks point back at their slot
        for block in self.pool.blocks:
            if block.tracker is not None and not block.freed and block.owner == state.name:
                end = (block.va + block.charged if block.big
                       else block.va + block.charged - self.pool.header_size)
                self.m.write_pointer(end - ptr, block.tracker.va)

    def _write_slot(self, buf: bytearray, slot: TrackerSlot) -> None:
        if slot.number_of_bytes == 0 and not slot.in_use:
            return
        self.m.packer.write(buf, slot.index * slot.page.entry_size, "_VI_POOL_ENTRY_INUSE", {
            "VirtualAddress": slot.virtual_address, "CallingAddress": slot.calling_address,
            "NumberOfBytes": slot.number_of_bytes, "Tag": slot.tag})

    def known_counters(self, counters: dict[str, int]) -> dict[str, int]:
        fields = self.m.platform.types["_VF_TARGET_VERIFIED_DRIVER_DATA"].fields
        return {k: v for k, v in counters.items() if k in fields}

    def _slist(self, stack: list[int], pushes: int, owner_va: int) -> dict:
        """An SLIST_HEADER value for a LIFO whose top is ``stack[-1]``.

        x64 8.1+: HeaderX64 {Depth 0-15, Sequence 16-63 | Reserved 0-3, NextEntry 4-63};
        the factory writes the raw 16-byte-aligned entry address in the second qword.
        Windows 7: Header16 form with HeaderType (bit 0) and Init (bit 1) set.
        x86: {Next @0, Depth @4, Sequence @6} [§3.7]."""
        top = stack[-1] if stack else 0
        depth = len(stack)
        if self.m.ptr == 4:
            return {"Alignment": top | (depth << 32) | ((pushes & 0xFFFF) << 48)}
        low = depth | ((pushes & 0xFFFFFFFFFFFF) << 16)
        high = top | (0x3 if self.m.platform.name == "win7-x64" else 0)
        return {"Alignment": low, "Region": high}

    def _write_trace_log(self) -> None:
        if not self.trace_va:
            self.m.write_pointer(self.m.symbol("VfPoolTraces"), 0)
            return
        index, ring = self.pool.trace_ring()
        size = self.m.packer.sizeof("_VF_POOL_TRACE")
        buf = bytearray(size * self.pool.trace_length)
        for slot, record in ring:
            self.m.packer.write(buf, slot * size, "_VF_POOL_TRACE", {
                "Address": record.address, "Size": record.size, "Thread": record.thread,
                "StackTrace": record.stack})
        self.m.write(self.trace_va, bytes(buf))
        self.m.write_pointer(self.m.symbol("VfPoolTraces"), self.trace_va)
        self.m.write_u32(self.m.symbol("VfPoolTracesIndex"), index)
        self.m.write_u32(self.m.symbol("VfPoolTracesLength"), self.pool.trace_length)

    def _write_known(self, type_name: str, va: int, values: dict) -> None:
        fields = self.m.platform.types[type_name].fields
        self.m.write_struct(va, type_name, {k: v for k, v in values.items() if k in fields})


def _depth(count: int) -> int:
    return count.bit_length()
