"""The HTML pages of the bundled dumps, made once per test process through the
``dumpscan`` command (in-process, so that Vega's script is bundled once), and the data
each page embeds."""
from __future__ import annotations

import json
import re
import shutil
from functools import lru_cache
from pathlib import Path

from click.testing import CliRunner

from dumpscan.commands import main

from conftest import DUMPS, SYMBOLS

SINGLE = DUMPS / "win10-x64-verifier-full.dmp"
SERIES = [DUMPS / f"win10-x64-series-t{i}.dmp" for i in range(3)]
EVIL_DRIVER = "<script>alert(1)</script>"
EVIL_TAG = "</sc"
DATA = re.compile(r'<script type="application/json" id="dumpscan-data">(.*?)</script>', re.S)


def dumpscan(*args) -> str:
    """Run ``dumpscan ARGS`` in this process; its stdout (fails on a non-zero status)."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def page_data(html: str) -> dict:
    """The page's embedded tables and charts."""
    found = DATA.findall(html)
    assert len(found) == 1
    return json.loads(found[0])


def table_rows(data: dict, name: str) -> list[dict]:
    """An embedded table's rows as ``--format json`` gives them (column name -> value)."""
    table = data["tables"][name]
    return [dict(zip((c["name"] for c in table["columns"]), row)) for row in table["values"]]


def build_index(root: Path) -> Path:
    """An archive index of the series (machine m1), two other dumps and a truncated one
    (machine m2)."""
    archive = root / "ARCHIVE"
    (archive / "m1").mkdir(parents=True)
    (archive / "m2").mkdir()
    for dump in SERIES:
        shutil.copy(dump, archive / "m1" / dump.name)
    shutil.copy(SINGLE, archive / "m2" / SINGLE.name)
    shutil.copy(DUMPS / "win7-x64-poolhittag.dmp", archive / "m2" / "win7.dmp")
    (archive / "m2" / "broken.dmp").write_bytes(SINGLE.read_bytes()[:100_000])
    db = root / "index.sqlite"
    result = CliRunner().invoke(main, ["scan", str(archive), "--db", str(db), "-s", str(SYMBOLS),
                                       "--workers", "1"], catch_exceptions=False)
    assert db.is_file(), result.output
    return db


def evil_report() -> dict:
    """The single dump's report with its leaking driver renamed ``<script>...`` and its
    leaking tag renamed ``</sc``: dump text that must render as text."""
    text = dumpscan("analyze", SINGLE, "-s", SYMBOLS, "--format", "json", "-q")
    text = text.replace("myfault", EVIL_DRIVER).replace('"Leak"', json.dumps(EVIL_TAG))
    report = json.loads(text)
    report.pop("leaks")
    return report


@lru_cache(maxsize=None)
def pages(root: Path) -> dict[str, Path]:
    """Every kind of page, written under ``root``: report, diff, series, archive, and the
    report of :func:`evil_report`."""
    from dumpscan.report.render_html import report_page

    root.mkdir(parents=True, exist_ok=True)
    out = {name: root / f"{name}.html" for name in ("report", "diff", "series", "archive", "evil")}
    dumpscan("analyze", SINGLE, "-s", SYMBOLS, "--format", "html", "-o", out["report"], "-q")
    dumpscan("diff", SERIES[0], SERIES[2], "-s", SYMBOLS, "--format", "html", "-o", out["diff"], "-q")
    dumpscan("series", *SERIES, "-s", SYMBOLS, "--format", "html", "-o", out["series"], "-q")
    dumpscan("report", "--db", build_index(root), "-o", out["archive"])
    out["evil"].write_text(report_page(evil_report()))
    return out
