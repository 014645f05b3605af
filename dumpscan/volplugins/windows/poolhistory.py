"""windows.poolhistory: the Driver Verifier allocate/free log of a block, as !verifier 80 ADDR.

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.poolhistory --address 0x9ca00000
    vol ... windows.poolhistory --count 50            # the 50 newest records
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from dumpscan.report.select import history, parse_address

from . import dumpscan_common as common

DEFAULT_COUNT = 20


class PoolHistory(interfaces.plugins.PluginInterface):
    """Driver Verifier pool allocate/free log (!verifier 80): newest first, with stacks.

    One row per VfPoolTraces record (Index = its ring slot, Kind = allocate or free, the
    block Address, Size, Thread), newest first as the debugger prints them; its stack
    frames follow as child rows (Kind 'frame', Address = the return address, Symbol).
    --address keeps the records of one block; without it, the --count newest records.
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [
            common.kernel_requirement(),
            requirements.StringRequirement(
                name="address", optional=True, default=None,
                description="Block address (0x9ca00000, fffff800`016530fc): its allocate/free history"),
            requirements.IntRequirement(
                name="count", optional=True, default=None,
                description=f"Without --address: the N newest records (default {DEFAULT_COUNT}; 0 = all)"),
        ]

    def _generator(self, address):
        count = common.option(self, "count", DEFAULT_COUNT)
        report = common.analyze(self, owners=False)
        if not isinstance(report.get("verifier"), dict):
            common.vollog.warning("Driver Verifier is not enabled in this dump: there is no pool "
                                  "allocate/free log")
            return
        verifier = report["verifier"]
        if not verifier.get("trace_log"):
            common.vollog.warning("the Driver Verifier pool trace log (VfPoolTraces) holds no records")
        records = history(report, address, None if address is not None or count == 0 else count)
        if address is not None and not records:
            common.vollog.warning("no log entries for address %#x", address)
        for record in records:
            index, kind = record.get("index", 0), record.get("kind") or "unknown"
            yield (0, (index, kind, format_hints.Hex(record.get("address", 0)),
                       format_hints.Hex(record.get("size", 0)), format_hints.Hex(record.get("thread", 0)),
                       common.NA))
            symbols = record.get("symbols") or []
            for position, frame in enumerate(record.get("stack") or []):
                symbol = symbols[position] if position < len(symbols) else None
                yield (1, (index, "frame", format_hints.Hex(frame), common.NA, common.NA,
                           common.text(symbol)))

    def run(self):
        columns = [("Index", int), ("Kind", str), ("Address", format_hints.Hex),
                   ("Size", format_hints.Hex), ("Thread", format_hints.Hex), ("Symbol", str)]
        address = self.config.get("address", None)
        try:
            address = parse_address(address) if address not in (None, "") else None
        except ValueError as exc:  # a bad option: one line, exit status 1
            common.fail(f"--address: {exc}")
        return renderers.TreeGrid(columns, self._generator(address))
