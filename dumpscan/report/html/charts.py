"""The HTML pages' charts: Vega-Lite specifications (plain dicts, data inline) that the
page's script hands to vega-embed."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...analysis.leaks import human_bytes

CHART_WIDTH = 460
CATEGORY_COLORS = {  # one colour per pool, and per archive status, on every chart
    "pool": {"nonpaged": "#4c78a8", "paged": "#f58518"},
    "status": {"ok": "#54a24b", "error": "#e45756", "no-pool-data": "#9d9da0", "needs-symbols": "#eeca3b"},
}



def _axis_bytes() -> dict:
    return {"title": "bytes", "format": "~s"}


def ranking_chart(values: list[dict], label: str, label_title: str, *, color: str | None = None,
                  value: str = "bytes", value_title: str = "bytes") -> dict | None:
    """Horizontal bars, largest on top; stacked by ``color`` when given."""
    if not values:
        return None
    encoding: dict[str, Any] = {
        "y": {"field": label, "type": "nominal", "sort": "-x", "title": label_title},
        "x": {"field": value, "type": "quantitative", "aggregate": "sum",
              "axis": _axis_bytes() if value == "bytes" else {"title": value_title, "tickMinStep": 1, "format": "d"}},
        "tooltip": [{"field": label, "type": "nominal", "title": label_title},
                    *([{"field": color, "type": "nominal"}] if color else []),
                    {"field": value, "type": "quantitative", "title": value_title, "format": ","}],
    }
    if color:
        colors = CATEGORY_COLORS.get(color)
        encoding["color"] = {"field": color, "type": "nominal", "title": None, "legend": {"orient": "bottom"},
                             **({"scale": {"domain": list(colors), "range": list(colors.values())}} if colors else {})}
    return {"width": CHART_WIDTH, "data": {"values": values}, "mark": {"type": "bar"}, "encoding": encoding}


def column_chart(values: list[dict], label: str, label_title: str, value: str, value_title: str) -> dict | None:
    """Vertical bars in the given order (size classes, builds)."""
    if not values:
        return None
    return {"width": CHART_WIDTH, "data": {"values": values}, "mark": {"type": "bar"},
            "encoding": {
                "x": {"field": label, "type": "ordinal", "sort": None, "title": label_title,
                      "axis": {"labelAngle": -40}},
                "y": {"field": value, "type": "quantitative", "title": value_title},
                "tooltip": [{"field": label, "type": "ordinal", "title": label_title},
                            {"field": value, "type": "quantitative", "title": value_title, "format": ","}]}}


def line_chart(values: list[dict], x: str, x_title: str, series: str) -> dict | None:
    if not values:
        return None
    return {"width": CHART_WIDTH, "data": {"values": values}, "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": x, "type": "ordinal", "sort": None, "title": x_title},
                "y": {"field": "bytes", "type": "quantitative", "axis": _axis_bytes()},
                "color": {"field": series, "type": "nominal", "title": "tag", "legend": {"orient": "right"}},
                "tooltip": [{"field": series, "type": "nominal", "title": "tag"},
                            {"field": x, "type": "ordinal", "title": x_title},
                            {"field": "bytes", "type": "quantitative", "format": ","}]}}


def size_classes(sizes: Iterable[int]) -> list[dict]:
    """Block sizes by power-of-two class (``[4 KiB, 8 KiB)``...): blocks and bytes per
    class, smallest class first, empty classes between the smallest and largest kept."""
    counts: dict[int, list[int]] = {}
    for value in sizes:
        exponent = max(0, int(value).bit_length() - 1) if value > 0 else 0
        entry = counts.setdefault(exponent, [0, 0])
        entry[0] += 1
        entry[1] += int(value)
    if not counts:
        return []
    return [{"size": f"{human_bytes(1 << e)}+", "blocks": counts.get(e, [0, 0])[0],
             "bytes": counts.get(e, [0, 0])[1]} for e in range(min(counts), max(counts) + 1)]
