"""Every kind of HTML page opened in headless Chromium (Debian's ``chromium``, driven by
Playwright) with all network access blocked: it loads without console errors or
requests, every chart has drawn, sorting and the search box work, a suspect's link finds
its row, dump text stays text; a screenshot of each page is written under tmp_path.

Skips (one line) where Chromium or Playwright is missing; .ci/run installs both."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from html_pages import EVIL_DRIVER, pages

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOAD_MS = 60_000  # a hang guard for a loaded machine, not a speed target

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    return pages(tmp_path_factory.mktemp("pages"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900}, offline=True)
        yield context
        context.close()


class Opened:
    """A page loaded with every request but the file itself aborted and recorded, its
    console errors, page errors and dialogs recorded."""

    def __init__(self, context, path: Path) -> None:
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.route("**/*", self._route)
        self.page.goto(self.url)
        self.page.wait_for_function("document.body.dataset.ready === 'yes'", timeout=LOAD_MS)

    def _route(self, route) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            self.requests.append(route.request.url)
            route.abort()

    def column(self, table: str, heading: str) -> list[str]:
        """The cells of one column as shown (the current page of the table)."""
        headings = self.page.locator(f"table[data-table='{table}'] thead th").all_inner_texts()
        at = [h.strip() for h in headings].index(heading) + 1
        return self.page.locator(f"table[data-table='{table}'] tbody tr:not(.stack-row) td:nth-child({at})").all_inner_texts()


def open_page(browser, path: Path, shots: Path) -> Opened:
    opened = Opened(browser, path)
    assert opened.errors == [] and opened.requests == [] and opened.dialogs == []
    charts = opened.page.locator("div.vega")
    assert charts.count() >= 1
    for i in range(charts.count()):
        chart = charts.nth(i)
        box = chart.locator("svg").first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50, chart.get_attribute("data-chart")
        assert chart.locator("svg .role-mark path, svg .role-mark rect, svg .role-mark line").count() > 0, \
            chart.get_attribute("data-chart")
    opened.page.screenshot(path=str(shots / f"{path.stem}.png"), full_page=True)
    assert (shots / f"{path.stem}.png").stat().st_size > 10_000
    return opened


def test_report_page(browser, built, tmp_path):
    opened = open_page(browser, built["report"], tmp_path)
    page = opened.page
    assert page.locator("div.vega").count() == 4
    assert page.locator("#suspects li.high .subject").first.inner_text() == "1. tag 'Leak'"

    def numbers(heading):
        return [int(v) for v in opened.column("pooltags", heading)]

    page.locator("table[data-table='pooltags'] th[data-col=paged_bytes]").click()
    paged = numbers("PagedBytes")
    assert paged == sorted(paged, reverse=True) and len(paged) == 50  # a page of 50 rows of 267
    page.locator("table[data-table='pooltags'] th[data-col=paged_bytes]").click()
    assert numbers("PagedBytes") == sorted(numbers("PagedBytes")) and numbers("PagedBytes")[0] == 0

    search = page.locator("div[data-table='pooltags'] input[data-role=search]")
    search.fill("Le*")
    assert opened.column("pooltags", "Tag") == ["Leak"]
    search.fill("")
    assert len(opened.column("pooltags", "Tag")) == 50
    page.locator("div[data-table='pooltags'] button[data-role=next]").click()
    assert page.locator("div[data-table='pooltags'] [data-role=page]").inner_text().strip() == "page 2 of 6"

    page.locator("#suspects a.goto", has_text="!poolused row").first.click()
    assert search.input_value() == "=Leak" and opened.column("pooltags", "Tag") == ["Leak"]
    assert page.locator("table[data-table='pooltags'] tr.flash td").first.inner_text() == "Leak"

    page.locator("#suspects a.goto", has_text="call sites").first.click()  # tag Leak in the list of tags
    assert opened.column("callsites", "Symbol") == ["myfault!PoolLeak+0x24"]

    sites = page.locator("table[data-table='history'] td.expander").first
    sites.click()
    stack = page.locator("table[data-table='history'] tr.stack-row pre").first.inner_text().split("\n")
    assert stack[0].startswith("fffff805`") and "nt!XdvExAllocatePoolInternal+0x17" in stack[0]

    verifier = page.locator("div[data-table='verifier'] input[data-role=search]")
    verifier.fill("Leak")  # words match inside cells: the tag, and callers named PoolLeak
    inside = len(opened.column("verifier", "Tag"))
    verifier.fill("=Leak")  # =WORD: a whole cell
    assert set(opened.column("verifier", "Tag")) == {"Leak"} and len(opened.column("verifier", "Tag")) <= inside
    big = page.locator("div[data-table='bigpool'] input[data-role=search]")
    big.fill("=Leak")
    assert set(opened.column("bigpool", "Tag")) == {"Leak"} and len(opened.column("bigpool", "Tag")) == 10
    tables = page.locator("table.data").count()
    assert page.locator("table.data tbody tr").count() <= 50 * tables + 1  # pages, never every row in the DOM


def test_diff_series_and_archive_pages(browser, built, tmp_path):
    diff = open_page(browser, built["diff"], tmp_path)
    assert diff.column("difftags", "Tag") == ["Leak"]
    series = open_page(browser, built["series"], tmp_path)
    assert series.column("seriestags", "Bytes") == ["4096000 -> 12288000 -> 24576000"]
    archive = open_page(browser, built["archive"], tmp_path)
    assert archive.page.locator("div.vega").count() == 4
    archive.page.locator("table[data-table='top-tags'] th[data-col=dumps]").click()
    dumps = [int(v) for v in archive.column("top-tags", "Dumps")]
    assert dumps == sorted(dumps, reverse=True)
    assert archive.column("errors", "Status") == ["error"]


def test_dump_text_renders_as_text(browser, built, tmp_path):
    opened = open_page(browser, built["evil"], tmp_path)
    page = opened.page
    assert page.locator("#suspects .subject", has_text=f"driver {EVIL_DRIVER}.sys").count() == 1
    assert f"{EVIL_DRIVER}.sys" in opened.column("drivers", "Driver")
    assert page.locator("body script").count() == 3  # the data, vega, the page's script: no injected one
    assert opened.dialogs == []


def test_a_cut_table_says_so_and_pages_through_what_it_holds(browser, tmp_path, monkeypatch):
    from dumpscan.report import render_html
    from html_pages import evil_report

    monkeypatch.setattr(render_html, "MAX_ROWS", 120)
    path = tmp_path / "cut.html"
    report = evil_report()
    path.write_text(render_html.report_page(report))
    opened = open_page(browser, path, tmp_path)
    note = opened.page.locator("div[data-table='pooltags'] [data-role=cut]").inner_text()
    rows = len(report["tags"])  # one pooltags row a tag (274 in the bundled dump)
    assert 240 < rows <= 360  # three pages of 120
    assert note == (f"Listing 120 of {rows} rows (the first in the view's order); every row: "
                    "--format csv --section pooltags.")
    assert opened.page.locator("div[data-table='pooltags'] [data-role=page]").inner_text().strip() == "page 1 of 3"
