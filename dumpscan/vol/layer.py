"""A Volatility3 physical layer over any Windows crash dump dumpscan can read.

Volatility3 2.28 reads only DumpType 1 and 5; this layer takes its page map from
``dumpscan.dumpfile`` and so serves 1, 2, 5, 6, 8, 9 and 0xA, 32- and 64-bit. Pages
the dump does not hold are outside every segment: reading them raises Volatility's
InvalidAddressException, never returns zeros.
"""
from __future__ import annotations

from volatility3.framework import interfaces
from volatility3.framework.layers import segmented

from ..dumpfile import CrashDump


class CrashDumpLayer(segmented.SegmentedLayer):
    """Physical memory of a crash dump; config: ``base_layer`` (the file layer)."""

    provides = {"type": "physical"}
    _page_size = 0x1000

    def __init__(self, context: interfaces.context.ContextInterface, config_path: str,
                 name: str, dump: CrashDump) -> None:
        self._dump = dump
        super().__init__(context, config_path, name)

    def _load_segments(self) -> None:
        self._segments = [(first * self._page_size, offset, count * self._page_size,
                           count * self._page_size)
                          for first, count, offset in self._dump.iter_runs()]

    @property
    def dump(self) -> CrashDump:
        return self._dump
