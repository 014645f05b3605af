"""Volatility3 stacker: put a :class:`CrashDumpLayer` on any Windows kernel crash dump.

``DumpscanCrashDumpStacker`` recognises the 'PAGEDUMP' / 'PAGEDU64' header on the base
file layer and stacks a CrashDumpLayer for DumpType 1, 2, 5, 6, 8, 9 and 0xA, 32- and
64-bit.  Its ``stack_order`` (9) is below Volatility's own ``WindowsCrashDumpStacker``
(11), so one code path (dumpscan's page map: absent pages raise, truncation is a
warning) serves every type; a file dumpscan cannot open itself (a compressed file that
Volatility's file layer inflates, a non-local URL) is left to Volatility's stackers.

When the header's DirectoryTableBase passes the KUSER_SHARED_DATA check Volatility's own
DTB scanner applies, it is published as ``page_map_offset`` layer metadata;
``WindowsIntelStacker`` (40) then stacks the Intel layer on it without scanning.
Otherwise Volatility scans for the DTB, as with any physical layer.

Volatility finds stackers with ``framework.class_subclasses(StackerLayerInterface)``:
importing this module (``dumpscan/volplugins/dumpscan_formats.py`` does, and Volatility
imports every module of that plugin folder: ``dumpscan vol``, ``vol -p``) is all it takes.
"""
from __future__ import annotations

import contextlib
import logging
import os
import struct
from typing import Optional, Type

from volatility3.framework import constants, exceptions, interfaces
from volatility3.framework.automagic import windows as windows_automagic
from volatility3.framework.layers import intel

from ..dumpfile import CrashDump
from ..dumpfile import headers as H
from .layer import CrashDumpLayer, CrashDumpLayerError, RefusedCrashDump, base_location, local_path

vollog = logging.getLogger(__name__)


def one_line(text: str) -> str:
    return " ".join(str(text).split())

DUMP_TYPE_OFFSET = {32: 0xF88, 64: 0xF98}  # headers.py LAYOUT_FACTS


def sniff_header(layer: interfaces.layers.DataLayerInterface) -> Optional[tuple[int, int]]:
    """(bits, DumpType) if the layer starts with a crash-dump header, else None."""
    try:
        magic = layer.read(0, 8)
    except exceptions.InvalidAddressException:
        return None
    if magic[:4] != H.SIGNATURE or magic[4:] not in (H.VALID_DUMP32, H.VALID_DUMP64):
        return None
    bits = 64 if magic[4:] == H.VALID_DUMP64 else 32
    try:
        dump_type = struct.unpack("<I", layer.read(DUMP_TYPE_OFFSET[bits], 4))[0]
    except exceptions.InvalidAddressException:
        return bits, -1
    return bits, dump_type


def intel_layer_classes(dump: CrashDump) -> list[Type[intel.Intel]]:
    """The Volatility Intel layer classes the header allows, most likely first."""
    header = dump.header
    if header.machine == "x64":
        return [intel.WindowsIntel32e]
    if header.pae_enabled is True:
        return [intel.WindowsIntelPAE]
    if header.pae_enabled is False:
        return [intel.WindowsIntel]
    return [intel.WindowsIntelPAE, intel.WindowsIntel]


def check_dtb(context: interfaces.context.ContextInterface, memory_layer: str, dtb: int,
              layer_class: Type[intel.Intel]) -> bool:
    """Volatility's own test of a Windows DTB: KUSER_SHARED_DATA must map (WindowsIntelStacker)."""
    physical = context.layers[memory_layer]
    if dtb is None or dtb < 0 or not physical.is_valid(dtb & ~0xFFF, 1):
        return False
    name = context.layers.free_layer_name("DumpscanDtbCheck")
    config_path = interfaces.configuration.path_join("DumpscanDtbCheck", name)
    context.config[interfaces.configuration.path_join(config_path, "memory_layer")] = memory_layer
    context.config[interfaces.configuration.path_join(config_path, "page_map_offset")] = dtb
    try:
        layer = layer_class(context, config_path=config_path, name=name)
        check = (windows_automagic.Intel64LayerCheck if layer_class.bits_per_register == 64
                 else windows_automagic.Intel32LayerCheck)
        return bool(check.check(layer))
    except Exception as exc:  # any failure means "not this DTB"
        vollog.log(constants.LOGLEVEL_VVV, f"DTB 0x{dtb:x} with {layer_class.__name__}: {exc}")
        return False
    finally:
        for key in ("memory_layer", "page_map_offset"):
            with contextlib.suppress(KeyError):
                del context.config[interfaces.configuration.path_join(config_path, key)]


def dtb_problem(context: interfaces.context.ContextInterface, memory_layer: str, dtb: int) -> str:
    """Why a header DTB was refused, for messages."""
    if not context.layers[memory_layer].is_valid(dtb & ~0xFFF, 1):
        return f"the header's DirectoryTableBase 0x{dtb:x} is a page not in the dump"
    return f"the header's DirectoryTableBase 0x{dtb:x} fails the KUSER_SHARED_DATA check"


def _same_bytes_on_disk(path: str, layer: interfaces.layers.DataLayerInterface) -> bool:
    """False when the file layer transforms the file (e.g. inflates a compressed dump)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == layer.read(0, 8)
    except (OSError, exceptions.InvalidAddressException):
        return False


class DumpscanCrashDumpStacker(interfaces.automagic.StackerLayerInterface):
    """Stacks a dumpscan CrashDumpLayer on a Windows kernel crash dump of any DumpType."""

    stack_order = 9  # before Volatility's WindowsCrashDumpStacker (11)
    exclusion_list: list[str] = []

    @classmethod
    def stack(cls, context: interfaces.context.ContextInterface, layer_name: str,
              progress_callback: constants.ProgressCallback = None
              ) -> Optional[interfaces.layers.DataLayerInterface]:
        base = context.layers[layer_name]
        sniffed = sniff_header(base)
        if sniffed is None:
            return None
        bits, dump_type = sniffed
        location = base_location(context, layer_name)
        path = local_path(location) if location else None
        if path is None or not os.path.isfile(path) or not _same_bytes_on_disk(path, base):
            vollog.log(constants.LOGLEVEL_VVV,
                       f"{location!r} is not a plain local dump file; left to Volatility")
            return None

        new_name = context.layers.free_layer_name(CrashDumpLayer.__name__)
        join = interfaces.configuration.path_join
        context.config[join(new_name, "base_layer")] = layer_name
        try:
            layer = CrashDumpLayer(context, new_name, new_name)
        except CrashDumpLayerError as exc:
            # The header says 'crash dump' but dumpscan cannot read it: say why, and end the
            # stacking of this file there, as the dumpscan command does (RefusedCrashDump).
            return cls._refuse(context, layer_name, one_line(str(exc)))
        dump = layer.dump
        for warning in dump.warnings:
            vollog.warning(f"{dump.path}: {warning}")

        dtb = dump.header.dtb
        if dtb is None:
            vollog.warning(f"{dump.path}: DirectoryTableBase is not set in the header; "
                           "Volatility will scan for the DTB")
            return layer
        context.layers.add_layer(layer)  # briefly, to test the DTB on it
        try:
            accepted = next((c for c in intel_layer_classes(dump)
                             if check_dtb(context, new_name, dtb, c)), None)
            problem = None if accepted else dtb_problem(context, new_name, dtb)
        finally:
            context.layers.del_layer(new_name)
        if accepted is None:
            vollog.warning(f"{dump.path}: {problem}; Volatility will scan for the DTB")
            return CrashDumpLayer(context, new_name, new_name, dump=dump)
        context.config[join(new_name, "page_map_offset")] = dtb
        if dump.header.machine == "x86":
            context.config[join(new_name, "pae")] = accepted is intel.WindowsIntelPAE
        vollog.debug(f"DumpType {dump_type} ({bits}-bit), DTB 0x{dtb:x} from the header")
        return CrashDumpLayer(context, new_name, new_name, dump=dump)

    @staticmethod
    def _refuse(context: interfaces.context.ContextInterface, layer_name: str,
                reason: str) -> RefusedCrashDump:
        vollog.error(reason)
        name = context.layers.free_layer_name(RefusedCrashDump.__name__)
        join = interfaces.configuration.path_join
        context.config[join(name, "base_layer")] = layer_name
        context.config[join(name, "reason")] = reason
        return RefusedCrashDump(context, name, name)
