"""windows.pooltags: the !poolused table (per-tag pool counters summed over every tag table).

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.pooltags --sort nonpaged --top 10
    vol ... windows.pooltags --tags 'Lea*' '?rp ' -r csv
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces, renderers
from volatility3.framework.renderers import format_hints

from dumpscan.analysis.leaks import display_tag
from dumpscan.report.select import select_tags, tag_rows

from . import dumpscan_common as common


class PoolTags(interfaces.plugins.PluginInterface):
    """Per-tag pool usage as !poolused sums it: allocations, frees, outstanding, bytes, owners.

    Counters come from PoolTrackTable, the per-processor ExPoolTagTables and the expansion
    table, summed per tag in their own width (bytes read as signed). Outstanding =
    allocs - frees. Drivers: the tag's owners (verifier-tracked callers, pooltag.txt, tag
    bytes found in a driver image). Every tag the tables hold is listed unless filtered,
    including the tags whose totals are partial (a page of a tag table absent from the
    dump: the report's ``tags_partial``): their counters are what could be read, a lower
    bound rather than a total, and Partial is True.
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [common.kernel_requirement(), *common.filter_requirements(),
                common.pooltag_requirement()]

    def _generator(self):
        report = common.analyze(self)
        partial = [dict(row, partial=True) for row in tag_rows({"tags": report.get("tags_partial") or []})]
        rows = select_tags(tag_rows(report) + partial, tags=common.patterns(self.config.get("tags")),
                           drivers=common.patterns(self.config.get("driver")),
                           min_bytes=common.option(self, "min-bytes", 0),
                           sort=common.option(self, "sort", "total"), top=common.option(self, "top"))
        for row in rows:
            yield (0, (display_tag(row["tag"]), format_hints.Hex(row["key"]),
                       row["nonpaged_allocs"], row["nonpaged_frees"], row["nonpaged_outstanding"],
                       row["nonpaged_bytes"], row["paged_allocs"], row["paged_frees"],
                       row["paged_outstanding"], row["paged_bytes"],
                       ", ".join(row["drivers"]) or common.NA, bool(row.get("partial"))))

    def run(self):
        return renderers.TreeGrid(
            [("Tag", str), ("Key", format_hints.Hex),
             ("NonPagedAllocs", int), ("NonPagedFrees", int), ("NonPagedOutstanding", int),
             ("NonPagedBytes", int),
             ("PagedAllocs", int), ("PagedFrees", int), ("PagedOutstanding", int), ("PagedBytes", int),
             ("Drivers", str), ("Partial", bool)],
            self._generator())
