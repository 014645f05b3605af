"""A Volatility3 physical layer over any Windows crash dump dumpscan can read.

Volatility3 2.28 reads only DumpType 1 and 5; this layer takes its page map from
``dumpscan.dumpfile`` and so serves 1, 2, 5, 6, 8, 9 and 0xA, 32- and 64-bit. Pages
the dump does not hold (never stored, or lost to truncation) are outside every
segment: reading them raises Volatility's InvalidAddressException, never returns zeros.

The layer is built from configuration alone, as Volatility's automagic rebuilds every
layer (``ConstructionMagic``): ``base_layer`` names the file layer, whose ``location``
(a ``file:`` URL) is opened read-only with :func:`dumpscan.dumpfile.open_dump`. Optional
``page_map_offset`` (set by the stacker once the header's DTB passed Volatility's own
KUSER_SHARED_DATA check) and ``pae`` are published as layer metadata, which Volatility's
``WindowsIntelStacker`` takes instead of scanning for the DTB.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from volatility3.framework import exceptions, interfaces
from volatility3.framework.configuration import requirements
from volatility3.framework.layers import segmented

from ..dumpfile import CrashDump, DumpError, open_dump

vollog = logging.getLogger(__name__)

PAGE_SIZE = 0x1000


class CrashDumpLayerError(exceptions.LayerException):
    """The base layer is not a crash dump dumpscan can open (message: one line)."""


def local_path(location: str) -> Optional[str]:
    """The local file named by a Volatility location (``file:`` URL or plain path), or None."""
    if not location:
        return None
    parsed = urlparse(location)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        return url2pathname(unquote(parsed.path)) if os.name == "nt" else unquote(parsed.path)
    if parsed.scheme == "" or (os.name == "nt" and len(parsed.scheme) == 1):
        return location
    return None


def base_location(context: interfaces.context.ContextInterface, layer_name: str) -> Optional[str]:
    """The ``location`` config of a file layer (None for any other kind of layer)."""
    try:
        layer = context.layers[layer_name]
    except (KeyError, exceptions.LayerException):
        return None
    location = getattr(layer, "location", None)
    if location is None:
        location = layer.config.get("location", None)
    return location if isinstance(location, str) else None


def header_metadata(dump: CrashDump, page_map_offset: Optional[int] = None,
                    pae: Optional[bool] = None) -> Dict[str, Any]:
    """Layer metadata from the dump header: OS, architecture, PAE and (if given) the DTB.

    ``pae`` (when not None) overrides the header's PaeEnabled for 32-bit dumps."""
    header = dump.header
    metadata: Dict[str, Any] = {"os": "Windows"}
    if header.machine == "x64":
        metadata["architecture"] = "Intel64"
    else:
        metadata["architecture"] = "Intel32"
        if pae is None:
            pae = header.pae_enabled
        if pae is not None:
            metadata["pae"] = bool(pae)
    if page_map_offset is not None:
        metadata["page_map_offset"] = int(page_map_offset)
    return metadata


class RefusedCrashDump(interfaces.layers.DataLayerInterface):
    """What the stacker puts on a crash dump dumpscan refuses (the header says 'PAGEDUMP' /
    'PAGEDU64' but the dump cannot be read soundly): a layer that holds nothing.

    Stacking it ends the stacking of that file, as the ``dumpscan`` command ends there:
    otherwise Volatility's own crash-dump stacker would take a header dumpscan refuses at
    face value (a zeroed bitmap ValidDump; NumberOfRuns still the 'PAGE' fill, a minute of
    reading runs) and its DTB scan would read the raw file as physical memory.  Its
    metadata names no OS, so no Intel stacker scans it; every read fails.
    Config: ``base_layer`` (the file layer) and ``reason`` (the one-line refusal)."""

    _direct_metadata = {"architecture": "none", "os": "none"}

    def __init__(self, context: interfaces.context.ContextInterface, config_path: str,
                 name: str, metadata: Optional[Dict[str, Any]] = None) -> None:
        reason = context.config.get(interfaces.configuration.path_join(config_path, "reason"), "")
        super().__init__(context, config_path, name, {"refused": reason, **(metadata or {})})

    @property
    def maximum_address(self) -> int:
        return 0

    @property
    def minimum_address(self) -> int:
        return 0

    @property
    def dependencies(self) -> List[str]:
        return []

    def is_valid(self, offset: int, length: int = 1) -> bool:
        return False

    def read(self, offset: int, length: int, pad: bool = False) -> bytes:
        if pad:
            return b"\0" * length
        raise exceptions.InvalidAddressException(self.name, offset, f"refused crash dump: {self.metadata['refused']}")

    def write(self, offset: int, data: bytes) -> None:
        raise exceptions.InvalidAddressException(self.name, offset, "a refused crash dump is not writable")

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [
            requirements.TranslationLayerRequirement(name="base_layer", optional=False),
            requirements.StringRequirement(name="reason", optional=False,
                                           description="Why dumpscan refused the dump (one line)"),
        ]


class CrashDumpLayer(segmented.SegmentedLayer):
    """Physical memory of a crash dump.

    Config: ``base_layer`` (the file layer, required), ``page_map_offset`` and ``pae``
    (optional; published as metadata for Volatility's WindowsIntelStacker).  ``dump`` may
    hand in an already opened CrashDump (it must be the file the base layer reads).
    """

    provides = {"type": "physical"}
    _page_size = PAGE_SIZE

    def __init__(self, context: interfaces.context.ContextInterface, config_path: str,
                 name: str, metadata: Optional[Dict[str, Any]] = None,
                 dump: Optional[CrashDump] = None) -> None:
        base_layer = context.config.get(
            interfaces.configuration.path_join(config_path, "base_layer"), None)
        if dump is None:
            dump = self.open_from_layer(context, base_layer, name)
        self._dump: Optional[CrashDump] = dump
        self._dump_path = dump.path
        join = interfaces.configuration.path_join
        published = header_metadata(dump, context.config.get(join(config_path, "page_map_offset"), None),
                                    context.config.get(join(config_path, "pae"), None))
        published.update(metadata or {})
        super().__init__(context, config_path, name, published)
        if not self._segments:
            raise CrashDumpLayerError(name, f"{dump.path}: the dump holds no pages")

    @staticmethod
    def open_from_layer(context: interfaces.context.ContextInterface, base_layer: Optional[str],
                        name: str = "CrashDumpLayer") -> CrashDump:
        """Open, read-only, the local file under ``base_layer``; CrashDumpLayerError if none."""
        location = base_location(context, base_layer) if base_layer else None
        path = local_path(location) if location else None
        if path is None:
            raise CrashDumpLayerError(
                name, f"base layer {base_layer!r} is not a local file ({location!r})")
        try:
            return open_dump(path)
        except DumpError as exc:
            raise CrashDumpLayerError(name, str(exc)) from None
        except OSError as exc:
            raise CrashDumpLayerError(name, f"{path}: cannot open: {exc.strerror or exc}") from None

    def _load_segments(self) -> None:
        self._segments = [(first * PAGE_SIZE, offset, count * PAGE_SIZE, count * PAGE_SIZE)
                          for first, count, offset in self.dump.iter_runs()]

    @property
    def dump(self) -> CrashDump:
        if self._dump is None:  # after unpickling
            self._dump = open_dump(self._dump_path)
        return self._dump

    def __getstate__(self) -> Dict[str, Any]:
        """Picklable (Volatility's multiprocessing scans): the open dump is reopened on use."""
        state = self.__dict__.copy()
        state["_dump"] = None
        return state

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [
            requirements.TranslationLayerRequirement(name="base_layer", optional=False),
            requirements.IntRequirement(
                name="page_map_offset", optional=True,
                description="DTB taken from the dump header (published as metadata)"),
            requirements.BooleanRequirement(
                name="pae", optional=True, default=None,
                description="32-bit: whether the DTB is a PAE one (published as metadata)"),
        ]
