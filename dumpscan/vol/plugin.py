"""A KernelView from inside a Volatility3 plugin.

``view_from_plugin(self.context, self.config["kernel"])`` gives dumpscan's readers the
kernel that Volatility's automagic found: reads go through the kernel module's layer
(canonical x64 addresses are masked to the Intel layer's 48 bits; absent memory raises
MemoryAbsent), the base is the module's offset (made canonical), and the layouts come
from the same ISF file Volatility loaded, read with dumpscan's own SymbolTable (cached
per URL).
"""
from __future__ import annotations

import json
import threading

from volatility3.framework import exceptions, interfaces

from ..dumpfile import CrashDump, DumpError, open_dump
from ..kernel.view import KernelView
from ..symbols.isf import SymbolTable, SymbolTableError
from ..symbols.sources import JAR_PREFIX, decompress
from .header import canonical
from .layer import CrashDumpLayer, base_location, local_path
from .open import kernel_identity, layer_mapping, layer_reader

class PluginError(exceptions.VolatilityException):
    """A dumpscan plugin cannot produce its rows (a bad dump, a bad option). Raised from
    a plugin after its one-line ERROR log: ``vol`` then prints its error block and exits
    with status 1 (``volatility3.cli.CommandLine.process_exceptions``), never an empty
    grid with status 0."""


class PluginSymbolError(PluginError, exceptions.SymbolSpaceError):
    """A symbol table the analysis needs is missing or unreadable (``vol`` says: "an
    issue related to a symbol table", then the message)."""


_TABLES: dict[str, SymbolTable] = {}
_LOCK = threading.Lock()


def symbol_table_from_url(url: str) -> SymbolTable:
    """dumpscan's SymbolTable of the ISF URL Volatility loaded: ``file:`` and
    ``jar:file:<zip>!<member>`` (a member of a zip symbol pack) are read directly; any
    other scheme through Volatility's ResourceAccessor. Cached per URL."""
    with _LOCK:
        table = _TABLES.get(url)
    if table is not None:
        return table
    if url.startswith(("file:", JAR_PREFIX + "file:")) or "://" not in url:
        table = SymbolTable.load(url)
    else:
        from volatility3.framework.layers import resources

        try:
            with resources.ResourceAccessor().open(url) as handle:
                table = SymbolTable(json.loads(decompress(handle.read())), url)
        except (OSError, ValueError) as exc:
            raise SymbolTableError(f"{url}: cannot read symbol table ({exc})") from None
    with _LOCK:
        _TABLES.setdefault(url, table)
    return table


def crash_dump_under(context: interfaces.context.ContextInterface, layer_name: str) -> tuple[CrashDump, bool]:
    """(the crash dump under a layer, whether the caller must close it): walking down the
    layer stack to dumpscan's ``CrashDumpLayer``, else to the local file the bottom layer
    reads (opened here).  ValueError when there is none."""
    pending, seen = [layer_name], set()
    while pending:
        name = pending.pop(0)
        if name in seen or name not in context.layers:
            continue
        seen.add(name)
        layer = context.layers[name]
        if isinstance(layer, CrashDumpLayer):
            return layer.dump, False
        path = local_path(base_location(context, name) or "")
        if path:
            return open_dump(path), True
        pending += list(getattr(layer, "dependencies", []) or [])
    raise ValueError("no crash dump file under the kernel layer: dumpscan reads the dump header")


def view_from_plugin(context: interfaces.context.ContextInterface,
                     kernel_module_name: str) -> KernelView:
    """A KernelView over the kernel module a plugin's ModuleRequirement resolved.  The
    kernel image of a crash dump passes the check ``open_kernel`` makes (``kernel_identity``:
    its PE header and CodeView record read), so the plugins refuse the dumps the command line
    refuses, whichever automagic found the kernel."""
    module = context.modules[kernel_module_name]
    layer = context.layers[module.layer_name]
    table = context.symbol_space[module.symbol_table_name]
    url = table.config.get("isf_url", None)
    if not url:
        raise SymbolTableError(f"symbol table {module.symbol_table_name} has no isf_url")
    symbols = symbol_table_from_url(url)
    pointer_size = 8 if getattr(layer, "bits_per_register", 8 * symbols.pointer_size) == 64 else 4
    view = KernelView(layer_reader(layer), symbols, canonical(int(module.offset), pointer_size),
                      layer_mapping(layer))
    try:
        dump, owned = crash_dump_under(context, module.layer_name)
    except (ValueError, DumpError, OSError):  # a raw memory image: the command line reads none
        return view
    try:
        kernel_identity(view.read, view.kernel_base, dump, dump.path)
    finally:
        if owned:
            dump.close()
    return view
