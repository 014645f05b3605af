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

from volatility3.framework import interfaces

from ..kernel.view import KernelView
from ..symbols.isf import SymbolTable, SymbolTableError
from .header import canonical
from .open import layer_mapping, layer_reader

_TABLES: dict[str, SymbolTable] = {}
_LOCK = threading.Lock()


def symbol_table_from_url(url: str) -> SymbolTable:
    """dumpscan's SymbolTable of an ISF URL (file: URLs directly; others, e.g. a file
    inside a zip, through Volatility's ResourceAccessor).  Cached per URL."""
    with _LOCK:
        table = _TABLES.get(url)
    if table is not None:
        return table
    if url.startswith("file:") or "://" not in url:
        table = SymbolTable.load(url)
    else:
        from volatility3.framework.layers import resources

        try:
            with resources.ResourceAccessor().open(url) as handle:
                table = SymbolTable(json.loads(handle.read()), url)
        except (OSError, ValueError) as exc:
            raise SymbolTableError(f"{url}: cannot read symbol table ({exc})") from None
    with _LOCK:
        _TABLES.setdefault(url, table)
    return table


def view_from_plugin(context: interfaces.context.ContextInterface,
                     kernel_module_name: str) -> KernelView:
    """A KernelView over the kernel module a plugin's ModuleRequirement resolved."""
    module = context.modules[kernel_module_name]
    layer = context.layers[module.layer_name]
    table = context.symbol_space[module.symbol_table_name]
    url = table.config.get("isf_url", None)
    if not url:
        raise SymbolTableError(f"symbol table {module.symbol_table_name} has no isf_url")
    symbols = symbol_table_from_url(url)
    pointer_size = 8 if getattr(layer, "bits_per_register", 8 * symbols.pointer_size) == 64 else 4
    return KernelView(layer_reader(layer), symbols, canonical(int(module.offset), pointer_size),
                      layer_mapping(layer))
