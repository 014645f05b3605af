"""windows.pooltrack: the raw pool tag tracker entries, table by table (what windows.pooltags sums).

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.pooltrack --tags Leak
"""
from __future__ import annotations

from typing import List

import numpy as np
from volatility3.framework import interfaces, renderers
from volatility3.framework.renderers import format_hints

from dumpscan.kernel.common import as_signed, key_tag, member, read_table
from dumpscan.kernel.tagtables import FIELDS, MAX_TRACK_ENTRIES, read_tag_tables
from dumpscan.report.render_text import tag_matcher
from dumpscan.analysis.leaks import display_tag
from dumpscan.vol.plugin import view_from_plugin

from . import dumpscan_common as common

TYPE = "_POOL_TRACKER_TABLE"


class PoolTrack(interfaces.plugins.PluginInterface):
    """Pool tag tracker entries per table (PoolTrackTable, ExPoolTagTables[i], expansion).

    One row per in-use entry of each distinct tag table: the Table, the entry Index, its
    Tag/Key (per-processor entries with Key 0 take the global table's key at the same
    index, as !poolused does) and its six counters as stored (bytes read as signed in
    their width). windows.pooltags shows the per-tag sums.
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [common.kernel_requirement(),
                *common.filter_requirements(sort=False, drivers=False)]

    def _generator(self):
        view = view_from_plugin(self.context, self.config["kernel"])
        totals = read_tag_tables(view)
        for warning in totals.warnings:
            common.vollog.warning("%s", warning)
        match = tag_matcher(common.patterns(self.config.get("tags")))
        min_bytes = common.option(self, "min-bytes", 0)
        top = common.option(self, "top")
        entry_size = view.layout(TYPE).size
        paths = ["Key"] + list(FIELDS.values())
        widths = {field: 8 * member(view, TYPE, field)[1].size for field in FIELDS.values()}
        global_keys = None
        shown = 0
        for info in totals.tables:
            table = read_table(view, info.source, info.address, info.declared, entry_size,
                               MAX_TRACK_ENTRIES)
            values = table.columns(view, TYPE, paths)
            keys = values["Key"].astype(np.uint64)
            valid = table.valid()
            if info.source == "PoolTrackTable":
                global_keys = np.where(valid, keys, 0)
            elif global_keys is not None and info.source != "PoolTrackTableExpansion":
                n = min(len(keys), len(global_keys))
                keys = keys.copy()
                keys[:n] = np.where(keys[:n] == 0, global_keys[:n], keys[:n])
            active = np.zeros(len(keys), dtype=bool)
            for field in FIELDS.values():
                active |= values[field] != 0
            for index in np.flatnonzero(valid & (keys != 0) & active).tolist():
                key = int(keys[index]) & 0xFFFFFFFF
                tag = key_tag(key)
                row = {}
                for field in FIELDS.values():
                    value = np.array([values[field][index]], dtype=np.uint64)
                    row[field] = (int(as_signed(value, widths[field])[0]) if field.endswith("Bytes")
                                  else int(value[0]))
                if not match(tag) or (min_bytes > 0 and row["PagedBytes"] + row["NonPagedBytes"] < min_bytes):
                    continue
                yield (0, (info.source, index, display_tag(tag), format_hints.Hex(key),
                           row["NonPagedAllocs"], row["NonPagedFrees"], row["NonPagedBytes"],
                           row["PagedAllocs"], row["PagedFrees"], row["PagedBytes"]))
                shown += 1
                if top is not None and shown >= top:
                    return

    def run(self):
        return renderers.TreeGrid(
            [("Table", str), ("Index", int), ("Tag", str), ("Key", format_hints.Hex),
             ("NonPagedAllocs", int), ("NonPagedFrees", int), ("NonPagedBytes", int),
             ("PagedAllocs", int), ("PagedFrees", int), ("PagedBytes", int)],
            self._generator())
