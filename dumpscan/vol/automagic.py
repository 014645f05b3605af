"""Volatility3 automagic: the kernel base and PDB from the crash-dump header, no scan.

Volatility's ``KernelPDBScanner`` (priority 30) finds the kernel by scanning: the low
stub (absent from kernel dumps), then 'KDBG' over all of physical memory (encoded on
Windows 8+ unless a debugger was attached), the module-path string (another full scan),
a fixed mapping and finally a scan of kernel virtual space.  The crash-dump header
already names the KDDEBUGGER_DATA64 block and PsLoadedModuleList, so
``DumpscanKernelFromHeader`` (priority 25) reads the kernel base from them, the PDB
identity from the image's CodeView record, and fulfils the kernel symbol requirement
exactly as KernelPDBScanner would (``PDBUtility.load_windows_symbol_table`` and the
Intel layer's ``kernel_virtual_offset``).  It acts only on layers stacked on a
:class:`~dumpscan.vol.layer.CrashDumpLayer`; whenever the header leads nowhere it does
nothing and Volatility's scanner runs as usual.
"""
from __future__ import annotations

import logging
import os

from volatility3 import symbols as vol_symbols
from volatility3.framework import constants, interfaces
from volatility3.framework.configuration import requirements
from volatility3.framework.layers import intel
from volatility3.framework.symbols.windows import pdbutil

from ..symbols.pe import CodeViewError, read_codeview
from .header import kernel_base_from_header
from .layer import CrashDumpLayer
from .open import layer_reader

vollog = logging.getLogger(__name__)

KERNEL_SYMBOL_CLASS = "volatility3.framework.symbols.windows.WindowsKernelIntermedSymbols"


def crash_dump_layers(context: interfaces.context.ContextInterface, config_path: str,
                      requirement: interfaces.configuration.RequirementInterface):
    """Intel layers named in the requirement tree that sit on a CrashDumpLayer."""
    sub_path = interfaces.configuration.path_join(config_path, requirement.name)
    if isinstance(requirement, requirements.TranslationLayerRequirement):
        name = context.config.get(sub_path, None)
        layer = context.layers.get(name, None) if name else None
        if isinstance(layer, intel.Intel):
            physical = context.layers.get(layer.config.get("memory_layer", None), None)
            if isinstance(physical, CrashDumpLayer):
                yield layer, physical
        return
    for sub in requirement.requirements.values():
        yield from crash_dump_layers(context, sub_path, sub)


class DumpscanKernelFromHeader(interfaces.automagic.AutomagicInterface):
    """Finds the Windows kernel from the crash-dump header instead of scanning for it."""

    priority = 25  # after LayerStacker (10), before KernelPDBScanner (30)
    exclusion_list = ["linux", "mac"]

    def __call__(self, context: interfaces.context.ContextInterface, config_path: str,
                 requirement: interfaces.configuration.RequirementInterface,
                 progress_callback: constants.ProgressCallback = None) -> None:
        if not requirement.unsatisfied(context, config_path):
            return None
        layers = list(crash_dump_layers(context, config_path, requirement))
        if not layers:
            return None
        symbol_requirements = self.find_requirements(
            context, config_path, requirement, requirements.SymbolTableRequirement)
        for sub_path, symbol_requirement in symbol_requirements:
            parent = interfaces.configuration.parent_path(sub_path)
            if not symbol_requirement.unsatisfied(context, parent):
                continue
            for vlayer, physical in layers:
                if self._fulfil(context, sub_path, vlayer, physical, progress_callback):
                    break
        return None

    @staticmethod
    def _fulfil(context, sub_path: str, vlayer: intel.Intel, physical: CrashDumpLayer,
                progress_callback) -> bool:
        header = physical.dump.header
        pointer_size = 8 if vlayer.bits_per_register == 64 else 4
        read = layer_reader(vlayer)
        base = kernel_base_from_header(read, header, pointer_size)
        if base is None:
            vollog.debug("the header leads to no kernel image; leaving it to KernelPDBScanner")
            return False
        try:
            pdb = read_codeview(read, base)
        except CodeViewError as exc:
            vollog.debug(str(exc))
            return False
        if pdb.name[:-4] not in constants.windows.KERNEL_MODULE_NAMES:
            vollog.debug(f"the image at 0x{base:x} is {pdb.name}, not a kernel")
            return False
        try:
            loaded = pdbutil.PDBUtility.load_windows_symbol_table(
                context=context, guid=pdb.guid, age=pdb.age, pdb_name=pdb.name,
                symbol_table_class=KERNEL_SYMBOL_CLASS, config_path=sub_path,
                progress_callback=progress_callback)
        except Exception as exc:  # OfflineException, download or conversion failures
            vollog.debug(f"loading the symbol table of {pdb} failed: {exc}")
            loaded = None
        if not loaded:
            where = os.path.join(vol_symbols.__path__[0], "windows", pdb.name, f"{pdb.guid}-{pdb.age}.json.xz")
            vollog.warning(
                f"no symbol table for {pdb.name} GUID {pdb.guid} age {pdb.age} "
                f"(kernel at 0x{base:x}); put its ISF at {where} (from a copy of {pdb.name}: "
                f"dumpscan symbols --import {pdb.name} -s DIR, then vol -s DIR; or download and "
                f"convert it with: python -m volatility3.framework.symbols.windows.pdbconv "
                f"-p {pdb.name} -g {pdb.guid}{pdb.age})")
            return False
        kvo_path = interfaces.configuration.path_join(vlayer.config_path, "kernel_virtual_offset")
        context.config[kvo_path] = base & vlayer.address_mask
        vollog.debug(f"kernel {pdb} at 0x{base:x} from the dump header")
        return True
