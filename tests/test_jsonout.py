"""dumpscan.report.jsonout: the streamed writer gives json.dumps(obj, indent=n)'s text,
byte for byte, for reports and for the awkward corners of JSON."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dumpscan.analysis.engine import analyze_path
from dumpscan.report import jsonout

ROOT = Path(__file__).resolve().parents[1]
DUMPS = ROOT / "testdata" / "dumps"
SYMBOLS = ROOT / "testdata" / "symbols"


@pytest.mark.parametrize("name", ["win10-x64-verifier-full", "win7-x64-poolhittag", "win81-x86-verifier"])
def test_report_text_is_json_dumps_text(name):
    report = analyze_path(DUMPS / f"{name}.dmp", [SYMBOLS])
    for indent in (0, 1, 2, 4):
        assert jsonout.dumps(report, indent) == json.dumps(report, indent=indent)
    stream = io.StringIO()
    jsonout.write(report, stream)
    assert stream.getvalue() == json.dumps(report, indent=1)


def test_corners():
    odd = {"a": {}, "b": [], 1: [1, [2, {}], {"x": None, 2.5: "é\n\"", True: False}], True: (1, 2),
           None: -0.5, "n": None, "t": [[], {}, [[]]], "u": "\u2028\x00", "big": 2**70,
           "rows": [{"va": 2**64 - 1, "free": True}, {"nested": [1]}, 3, "s", {}]}
    for indent in (0, 1, 3):
        assert jsonout.dumps(odd, indent) == json.dumps(odd, indent=indent)
    for scalar in (0, "x", None, 1.5, False, [], {}):
        assert jsonout.dumps(scalar) == json.dumps(scalar, indent=1)
    with pytest.raises(TypeError):
        jsonout.dumps({"x": object()})
