"""windows.pooltrack: the raw pool tag tracker entries, table by table (what windows.pooltags sums).

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.pooltrack --tag Leak
"""
from __future__ import annotations

from typing import List

import numpy as np
from volatility3.framework import interfaces, renderers
from volatility3.framework.renderers import format_hints

from dumpscan.analysis.batch import one_line_error
from dumpscan.kernel.common import as_signed, key_tag, member
from dumpscan.kernel.tagtables import FIELDS, read_tag_tables
from dumpscan.kernel.view import MemoryAbsent
from dumpscan.analysis.leaks import display_tag
from dumpscan.views import OPTIONS, OptionError, Query
from dumpscan.views.match import tag_matcher
from dumpscan.vol.grid import config_values, requirement
from dumpscan.vol.plugin import view_from_plugin

from . import dumpscan_common as common

TYPE = "_POOL_TRACKER_TABLE"
FILTERS = ("tag", "min_bytes", "top")


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
        return [common.kernel_requirement(), *(requirement(OPTIONS[name]) for name in FILTERS)]

    def _generator(self):
        try:
            query = Query.from_values(config_values(self.config, FILTERS), FILTERS)
        except OptionError as exc:
            common.vollog.error("%s", exc)
            return
        try:
            view = view_from_plugin(self.context, self.config["kernel"])
            totals = read_tag_tables(view)
            widths = {field: 8 * member(view, TYPE, field)[1].size for field in FIELDS.values()}
        except (*common.ANALYSIS_ERRORS, MemoryAbsent) as exc:
            common.vollog.error("dumpscan cannot read the pool tag tables: %s", one_line_error(exc))
            return
        for warning in totals.warnings:
            common.vollog.warning("%s", " ".join(str(warning).split()))
        match, min_bytes, top = tag_matcher(query.tag), query.min_bytes, query.top
        shown = 0
        for info in totals.tables:
            # the rows read_tag_tables summed: keys after the key-0 fill, absent and
            # zero-filled entries already excluded
            if info.keys is None or info.counters is None or info.valid is None:
                continue
            keys = info.keys.astype(np.uint64)
            active = np.zeros(len(keys), dtype=bool)
            for field in FIELDS.values():
                active |= info.counters[field] != 0
            columns = {field: (as_signed(info.counters[field], widths[field]) if field.endswith("Bytes")
                               else info.counters[field]).tolist() for field in FIELDS.values()}
            for index in np.flatnonzero(info.valid & (keys != 0) & active).tolist():
                key = int(keys[index]) & 0xFFFFFFFF
                tag = key_tag(key)
                row = {field: int(columns[field][index]) for field in FIELDS.values()}
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
