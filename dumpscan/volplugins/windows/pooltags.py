"""windows.pooltags: the !poolused table (the ``pooltags`` view: per-tag pool counters
summed over every tag table).

    vol -s SYMBOLS -p plugins -f MEMORY.DMP windows.pooltags --sort nonpaged --top 10
    vol ... windows.pooltags --tag 'Lea*' Irp -r csv
"""
from __future__ import annotations

from typing import List

from volatility3.framework import interfaces

from dumpscan.views import VIEWS

from . import dumpscan_common as common

VIEW = VIEWS["pooltags"]


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
    _version = (2, 0, 0)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return common.view_requirements(VIEW, "pooltag")

    def run(self):
        return common.view_grid(self, VIEW)
