"""The archive at a glance: dumps per kernel build and status (the ``builds`` view over
the index, for the archive page; the ready-made questions are in ``queries.py``)."""
from __future__ import annotations

from ..views.model import Column, Row, Table, View
from ..views.options import Query
from .index import STATUSES
from .queries import IndexSource


def _builds(source: IndexSource, query: Query) -> Table:
    counts = ", ".join(f"sum(status = '{status}')" for status in STATUSES)
    sql = (f"SELECT coalesce(kernel_build, ''), count(*) AS dumps, count(DISTINCT machine), {counts} "
           "FROM dumps GROUP BY coalesce(kernel_build, '') ORDER BY dumps DESC, 1")
    names = ("kernel_build", "dumps", "machines", *(s.replace("-", "_") for s in STATUSES))
    rows = [Row(dict(zip(names, r))) for r in source.conn.execute(sql)]
    return Table(BUILDS, query.limit(rows))


BUILDS = View(
    "builds", "Dumps per kernel build",
    "Every input by the kernel build its header names (empty: not known, e.g. not a dump), "
    "with how many machines sent them and how each ended.",
    (Column("kernel_build", "str", "The kernel's build (major.minor.build)"),
     Column("dumps", "int", "Inputs of this build"),
     Column("machines", "int", "Distinct machines among them"),
     *(Column(s.replace("-", "_"), "int", f"Of them with status '{s}'") for s in STATUSES)),
    ("top",), _builds)
