"""Open a crash dump as a Volatility context, from what its header already says.

No scanning when the header is sound: the DTB comes from the dump header (checked the
way Volatility checks a DTB it found: KUSER_SHARED_DATA must map), the kernel base from
the KDDEBUGGER_DATA64 block the header points to (KernBase at +0x18 [V S9]) or, failing
that, from the first PsLoadedModuleList entry; the kernel's PDB identity from its
CodeView record; the symbol table from the symbol directories.

When the header lies or is blank, Volatility's own scanners are the fallback (its DTB
scan over our physical layer, its KernelPDBScanner methods for the kernel base), and the
caller may override both (``dtb=``, ``kernel_base=``).  Every failure is a
:class:`~dumpscan.vol.errors.DumpOpenError` with a one-line message naming the dump.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Type

from volatility3.framework import contexts, exceptions
from volatility3.framework.layers import intel, physical

from ..dumpfile import CrashDump, DumpError, open_dump
from ..kernel.view import KernelView, MemoryAbsent
from ..symbols.finder import MissingSymbols, expected_location, find_symbol_table
from ..symbols.isf import SymbolTableError
from ..symbols.pe import CodeViewError, PdbIdentity, read_codeview
from .errors import (
    CodeViewUnreadable,
    DumpOpenError,
    KernelNotFound,
    NotAKernelDump,
    PageTableNotFound,
    SymbolsMismatch,
    SymbolsMissing,
)
from .header import canonical, describe_kernel_pointers, kernel_base_from_header
from .layer import CrashDumpLayer, CrashDumpLayerError
from .stacker import check_dtb, dtb_problem, intel_layer_classes

log = logging.getLogger(__name__)

BASE_LAYER = "base_layer"
MEMORY_LAYER = "memory_layer"  # the name Volatility's low-stub kernel finder expects
KERNEL_LAYER = "kernel_layer"

__all__ = ["OpenedDump", "open_kernel", "kernel_identity", "DumpOpenError", "KernelNotFound"]


@dataclass
class OpenedDump:
    dump: CrashDump
    view: KernelView
    context: contexts.Context
    layer_name: str
    warnings: list[str] = field(default_factory=list)
    dtb: int = 0
    kernel_base: int = 0
    pdb: PdbIdentity | None = None

    def close(self) -> None:
        self.dump.close()


def open_kernel(path: str | Path, symbol_dirs: list[Path], *, kernel_base: int | None = None,
                dtb: int | None = None) -> OpenedDump:
    """Open ``path`` and return a KernelView over its kernel address space.

    ``dtb`` / ``kernel_base`` override what the header says (for dumps whose header lies).
    Raises a DumpOpenError subclass (one line: the dump and what is wrong).
    """
    try:
        dump = open_dump(path)
    except DumpError as exc:
        raise NotAKernelDump(path, getattr(exc, "message", str(exc))) from None
    except OSError as exc:
        raise NotAKernelDump(path, f"cannot open: {exc.strerror or exc}") from None
    try:
        return _open(dump, Path(path), [Path(d) for d in symbol_dirs], kernel_base, dtb)
    except DumpOpenError:
        dump.close()
        raise
    except CrashDumpLayerError as exc:
        dump.close()
        raise NotAKernelDump(path, str(exc).split(": ", 1)[-1]) from None
    except Exception as exc:  # a Volatility failure on odd input: still one line, cause kept
        dump.close()
        raise DumpOpenError(path, f"cannot open as a kernel address space: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        dump.close()
        raise


def _open(dump: CrashDump, path: Path, symbol_dirs: list[Path], kernel_base: int | None,
          dtb: int | None) -> OpenedDump:
    header = dump.header
    warnings = list(dump.warnings)
    for warning in warnings:
        log.warning("%s: %s", path, warning)

    context = contexts.Context()
    context.config[f"dumpscan.{BASE_LAYER}.location"] = path.resolve().as_uri()
    context.add_layer(physical.FileLayer(context, f"dumpscan.{BASE_LAYER}", BASE_LAYER))
    context.config[f"dumpscan.{MEMORY_LAYER}.base_layer"] = BASE_LAYER
    context.add_layer(CrashDumpLayer(context, f"dumpscan.{MEMORY_LAYER}", MEMORY_LAYER, dump=dump))

    page_map_offset, layer_class = _choose_dtb(context, dump, path, dtb, warnings)
    context.config[f"dumpscan.{KERNEL_LAYER}.memory_layer"] = MEMORY_LAYER
    context.config[f"dumpscan.{KERNEL_LAYER}.page_map_offset"] = page_map_offset
    layer = layer_class(context, f"dumpscan.{KERNEL_LAYER}", KERNEL_LAYER)
    context.add_layer(layer)
    read = layer_reader(layer)
    pointer_size = 8 if layer.bits_per_register == 64 else 4

    base = _choose_kernel_base(context, dump, path, read, pointer_size, kernel_base, warnings)
    pdb = kernel_identity(read, base, dump, path)

    try:
        symbols = find_symbol_table(pdb, symbol_dirs)
    except MissingSymbols as exc:
        raise SymbolsMissing(path, str(exc), pdb, expected_location(pdb, symbol_dirs)) from None
    except SymbolTableError as exc:
        raise SymbolsMismatch(path, str(exc)) from None
    if symbols.pointer_size != pointer_size:
        raise SymbolsMismatch(path, f"{symbols.source}: a {8 * symbols.pointer_size}-bit symbol "
                                    f"table for a {8 * pointer_size}-bit kernel")
    _check_fit(symbols, header, base, pointer_size, path, warnings)

    view = KernelView(read, symbols, base, layer_mapping(layer))
    return OpenedDump(dump, view, context, KERNEL_LAYER, warnings, page_map_offset, base, pdb)


def kernel_identity(read, base: int, dump: CrashDump, path: str | Path) -> PdbIdentity:
    """The kernel image's PDB identity from its PE header and CodeView record: the check
    every way into a dump makes (``open_kernel`` for the command line, ``analyze_plugin``
    for the Volatility plugins, whichever automagic found the kernel there), so that both
    refuse the same dumps.  CodeViewUnreadable (one line) when they cannot be read."""
    try:
        return read_codeview(read, base)
    except CodeViewError as exc:
        raise CodeViewUnreadable(path, f"cannot identify the kernel's PDB: {exc}{_truncation_note(dump)}") from None


def layer_reader(layer: intel.Intel):
    """read(va, n) over a Volatility Intel layer: canonical addresses are masked to the
    layer's width; absent memory raises MemoryAbsent (never zeros)."""
    mask = layer.address_mask

    def read(va: int, length: int) -> bytes:
        if va < 0 or length < 0:
            raise MemoryAbsent(va, length)
        try:
            return layer.read(va & mask, length)
        except exceptions.InvalidAddressException:
            raise MemoryAbsent(va, length) from None

    return read


def layer_mapping(layer: intel.Intel):
    """mapping(va, length) over a Volatility Intel layer: the (va, length) runs its page
    tables map (unmapped parts skipped a whole table level at a time)."""
    mask = layer.address_mask

    def mapping(va: int, length: int):
        for offset, size, *_ in layer.mapping(va & mask, length, ignore_errors=True):
            yield offset, size

    return mapping


def _choose_dtb(context, dump: CrashDump, path: Path, given: int | None,
                warnings: list[str]) -> tuple[int, Type[intel.Intel]]:
    classes = intel_layer_classes(dump)
    if given is not None:
        accepted = next((c for c in classes if check_dtb(context, MEMORY_LAYER, given, c)), None)
        if accepted is None:
            _warn(warnings, path, f"the given DTB 0x{given:x} fails the KUSER_SHARED_DATA check; used anyway")
            accepted = classes[0]
        return given, accepted
    header_dtb = dump.header.dtb
    if header_dtb is not None:
        accepted = next((c for c in classes if check_dtb(context, MEMORY_LAYER, header_dtb, c)), None)
        if accepted is not None:
            return header_dtb, accepted
        problem = dtb_problem(context, MEMORY_LAYER, header_dtb)
    else:
        problem = "DirectoryTableBase is not set in the header"
    found = _scan_dtb(context, dump)
    if found is None:
        raise PageTableNotFound(path, f"{problem}, and Volatility's DTB scan found no page-table "
                                      f"root{_truncation_note(dump)}; give the DTB explicitly (--dtb ADDR)")
    _warn(warnings, path, f"{problem}; using DTB 0x{found[0]:x} found by Volatility's scan")
    return found


def _scan_dtb(context, dump: CrashDump) -> tuple[int, Type[intel.Intel]] | None:
    """Volatility's own DTB scan (WindowsIntelStacker) over our physical layer."""
    from volatility3.framework.automagic import windows as windows_automagic

    try:
        layer = windows_automagic.WindowsIntelStacker.stack(context, MEMORY_LAYER)
    except Exception as exc:  # the scanner's own failures mean "nothing found"
        log.debug("DTB scan failed: %s", exc)
        return None
    if layer is None:
        return None
    want = "Intel64" if dump.header.machine == "x64" else "Intel32"
    if layer.metadata.get("architecture") != want:
        return None
    return int(layer.config["page_map_offset"]), type(layer)


def _choose_kernel_base(context, dump: CrashDump, path: Path, read, pointer_size: int,
                        given: int | None, warnings: list[str]) -> int:
    if given is not None:
        given = canonical(given & ((1 << (8 * pointer_size)) - 1), pointer_size)
        try:
            if read(given, 2) == b"MZ":
                return given
            problem = "holds no MZ header"
        except MemoryAbsent:
            problem = "is not in the dump"
        raise KernelNotFound(path, f"the given kernel base 0x{given:x} {problem}{_truncation_note(dump)}")
    base = kernel_base_from_header(read, dump.header, pointer_size)
    if base is not None:
        return base
    problem = f"the header leads to no kernel image ({describe_kernel_pointers(dump.header)})"
    found = _scan_kernel(context)
    if found is None:
        raise KernelNotFound(path, f"{problem}, and Volatility's kernel scan found none"
                                   f"{_truncation_note(dump)}; give the kernel base explicitly (--kernel-base ADDR)")
    base = canonical(found, pointer_size)
    _warn(warnings, path, f"{problem}; using kernel base 0x{base:x} found by Volatility's scan")
    return base


def _scan_kernel(context) -> int | None:
    """Volatility's KernelPDBScanner methods (low stub, KDBG, module string, fixed, slow)."""
    from volatility3.framework.automagic import pdbscan
    from volatility3.framework.symbols import native

    if "pdbscan" not in context.symbol_space:
        context.symbol_space.append(native.NativeTable("pdbscan", native.std_ctypes))
    try:
        scanner = pdbscan.KernelPDBScanner(context, "dumpscan.pdbscan")
        found = scanner.determine_valid_kernel(context, [KERNEL_LAYER])
    except Exception as exc:
        log.debug("kernel scan failed: %s", exc)
        return None
    return int(found[1]) if found else None


def _check_fit(symbols, header, base: int, pointer_size: int, path: Path, warnings: list[str]) -> None:
    """The symbol table must place the globals the header names where the header says."""
    for name, value in (("PsLoadedModuleList", header.ps_loaded_module_list),
                        ("KdDebuggerDataBlock", header.kd_debugger_data_block)):
        if value is None or name not in symbols.symbols:
            continue
        expected = canonical((base + symbols.rva(name)) & ((1 << (8 * pointer_size)) - 1), pointer_size)
        if expected != canonical(value, pointer_size):
            _warn(warnings, path, f"{symbols.source} puts {name} at 0x{expected:x} (kernel base "
                                  f"0x{base:x}), the dump header says 0x{value:x}")


def _truncation_note(dump: CrashDump) -> str:
    missing = getattr(dump, "pages_missing", 0)
    if not missing:
        return ""
    return f" (the dump is truncated: {missing} of {missing + dump.pages_present} pages missing)"


def _warn(warnings: list[str], path: Path, message: str) -> None:
    warnings.append(message)
    log.warning("%s: %s", path, message)
