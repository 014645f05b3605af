"""windows.hittag: nt!PoolHitTag and, for a dump written at a PoolHitTag break, the caller chain.

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.hittag
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces, renderers
from volatility3.framework.renderers import format_hints

from dumpscan.analysis.leaks import display_tag
from dumpscan.kernel.poolhittag import DEFAULT_POOL_HIT_TAG

from . import dumpscan_common as common


class HitTag(interfaces.plugins.PluginInterface):
    """PoolHitTag: the tag the pool code breaks on, where it broke, and the caller chain.

    The parent row gives the tag; when the dump was written at the break (bug check 0x1E
    with parameter 1 = 0x80000003: an int 3 in the pool code, no debugger attached) its
    Address is the int 3 and Symbol its function, and the child rows are the return
    addresses found on the interrupted thread's stack, innermost first (Frame, the
    StackAddress they were found at, Address, Symbol, and the CALL instruction before them).
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [common.kernel_requirement()]

    def _generator(self):
        report = common.analyze(self, owners=False)
        hit = report.get("pool_hit_tag")
        if not isinstance(hit, dict):
            yield (0, (common.NA, format_hints.Hex(DEFAULT_POOL_HIT_TAG), common.NA, common.NA, common.NA,
                       common.NA, "not set (nt!PoolHitTag holds its default 0xffffff0f)"))
            return
        tag, key = display_tag(hit.get("tag", "")), format_hints.Hex(hit.get("key", 0))
        brk = hit.get("break")
        if not isinstance(brk, dict):
            yield (0, (tag, key, common.NA, common.NA, common.NA, common.NA,
                       "set; this dump was not written at a PoolHitTag break"))
            return
        check = (report.get("dump") or {}).get("bugcheck") or {}
        yield (0, (tag, key, common.NA, common.hexa(brk.get("stack_pointer")),
                   format_hints.Hex(brk.get("address", 0)), common.text(brk.get("symbol")),
                   f"break: int 3 (bug check {check.get('code', 0):#x}, STATUS_BREAKPOINT 0x80000003)"))
        frames = brk.get("frames")
        if isinstance(frames, list) and len(frames) == len(brk.get("return_addresses") or []):
            for number, frame in enumerate(frames):
                note = frame.get("call") or ""
                if frame.get("callee_match"):
                    note += ", calling the inner frame's function"
                yield (1, (tag, key, number, common.hexa(frame.get("stack_address")),
                           format_hints.Hex(frame.get("return_address", 0)), common.text(frame.get("symbol")),
                           common.text(note)))
            return
        symbols = brk.get("symbols") or []
        for number, address in enumerate(brk.get("return_addresses") or []):
            yield (1, (tag, key, number, common.NA, format_hints.Hex(address),
                       common.text(symbols[number] if number < len(symbols) else None), common.NA))

    def run(self):
        return renderers.TreeGrid(
            [("Tag", str), ("Key", format_hints.Hex), ("Frame", int), ("StackAddress", format_hints.Hex),
             ("Address", format_hints.Hex), ("Symbol", str), ("Note", str)],
            self._generator())
