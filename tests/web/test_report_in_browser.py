"""The report page of the demo business in headless Chromium, served by `ltv serve-web`: the
values a seller reads are formatted, the cohort table is a heatmap, the curves' day axis is to
scale, each table downloads as `ltv report --format csv` prints it, nothing scrolls sideways at
1280 px or at a phone's 390 px, every control takes a visible keyboard focus, and the console
stays clean.

The demo business (ltv_pipeline/demo) is imported and materialized with the real CLI. Set
LTV_UPDATE_SCREENSHOTS=1 to refresh docs/report-1280.png and docs/report-390.png.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ltv_core.formats.profiles import load_catalog
from ltv_core.formatting import money, percent
from ltv_core.published_reports import read_published, variant_key
from ltv_core.settings import Settings
from ltv_pipeline.cli.report import print_report
from ltv_pipeline.demo.business import build_business
from ltv_pipeline.demo.exports import demo_exports
from ltv_pipeline.reports.publish import publish_reports
from tests.marts.projections import add_fit, add_projections
from tests.support import free_port, stop_process_group

DOCS = Path(__file__).resolve().parents[2] / "docs"
DEMO_CUSTOMERS = 3000
DEMO_SEED = 7


def _ltv(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ltv_pipeline.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"ltv {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def demo_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    """The demo business imported and materialized, and `ltv serve-web` on a free port."""
    root = tmp_path_factory.mktemp("demo")
    env = {
        **os.environ,
        "LTV_HOME": str(root / "ltv_home"),
        "DAGSTER_HOME": str(root / "ltv_home" / "dagster"),
        "LTV_WEB_PORT": str(free_port()),
    }
    settings = Settings.from_env(env)
    files = demo_exports(build_business(DEMO_CUSTOMERS, DEMO_SEED), load_catalog())
    paths = []
    for name, data in files.items():
        paths.append(root / name)
        paths[-1].write_bytes(data)
    _ltv(env, "import", *map(str, paths))
    _ltv(env, "materialize")
    assert read_published(settings.published_dir)["status"] == "ready"
    server = subprocess.Popen(
        [sys.executable, "-m", "ltv_pipeline.cli.main", "serve-web"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{settings.web_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the pages did not answer"
                assert server.poll() is None, "ltv serve-web exited"
                time.sleep(0.3)
        yield base_url, settings
    finally:
        stop_process_group(server)


def screenshot(page, name: str, tmp_path: Path) -> None:
    target = DOCS / name if os.environ.get("LTV_UPDATE_SCREENSHOTS") == "1" else tmp_path / name
    page.screenshot(path=str(target), full_page=False)


def open_report(browser, base_url: str, width: int, height: int):
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status < 400 or problems.append(f"{r.url}: {r.status}"))
    page.goto(f"{base_url}/report")
    return page, problems


def horizontal_overflow(page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.mark.slow
def test_the_demo_report_reads_well_at_1280_px(browser, demo_pages, tmp_path):
    base_url, settings = demo_pages
    document = read_published(settings.published_dir)
    page, problems = open_report(browser, base_url, 1280, 900)

    # Formatted values: every money and rate cell is what the published text becomes.
    shown = page.eval_on_selector_all(
        "#payment-plans tbody tr:first-child td, #subscriptions tbody td",
        "tds => tds.map(td => [td.dataset.col, td.dataset.value, td.textContent.trim()])",
    )
    checked = 0
    for column, value, text in shown:
        if column in ("booked", "collected", "mrr", "arpa"):
            assert text == money(value, "USD") and text.startswith("$"), (column, text)
            checked += 1
        elif column.endswith("_rate") or column == "churn_rate_30d":
            assert text == percent(value) and text.endswith("%"), (column, text)
            checked += 1
    assert checked >= 6
    headers = page.eval_on_selector_all("#subscriptions th", "ths => ths.map(t => t.textContent)")
    assert "MRR" in headers and "ARPA" in headers

    # The heatmap: known cells coloured within their column, censored cells uncoloured.
    heat = page.eval_on_selector_all(
        "#cohort-ltv td[data-col='ltv_d30']",
        """tds => tds.map(td => [td.dataset.heat ?? null,
            getComputedStyle(td).backgroundColor, td.textContent.trim()])""",
    )
    known = [(h, colour) for h, colour, text in heat if text != "—"]
    censored = [colour for h, colour, text in heat if text == "—"]
    assert known and censored, heat
    darkest = max(known, key=lambda k: float(k[0]))
    lightest = min(known, key=lambda k: float(k[0]))
    assert darkest[1] == "rgb(8, 69, 148)" and lightest[1] == "rgb(239, 246, 255)"
    assert all(h is None for h, _, text in heat if text == "—")

    # The day axis is to scale: day N sits N/365 of the way from day 0 to day 365.
    ticks = page.eval_on_selector_all(
        "section[aria-labelledby='cohort-ltv-heading'] svg .x-tick",
        """ts => ts.map(t => { const r = t.getBoundingClientRect();
            return [Number(t.dataset.day), r.x + r.width / 2]; })""",
    )
    at = dict(ticks)
    for day in (30, 60, 90, 180):
        share = (at[day] - at[0]) / (at[365] - at[0])
        assert abs(share - day / 365) < 0.01, (day, share)

    # Each table's CSV is what `ltv report <report> --format csv` prints.
    for section_id, key in (
        ("cohort-ltv", variant_key("cohort-ltv", "net", "month")),
        ("refunds", variant_key("refunds", None, "month")),
        ("payment-plans", variant_key("payment-plans", None, None)),
    ):
        with page.expect_download() as download:
            page.click(f"#{section_id}-csv")
        entry = document["reports"][key]
        expected = io.StringIO()
        print_report(expected, "csv", entry["columns"], entry["rows"], entry["labels"])
        assert Path(download.value.path()).read_text() == expected.getvalue(), section_id

    assert horizontal_overflow(page) <= 0
    page.goto(f"{base_url}/report")
    screenshot(page, "report-1280.png", tmp_path)

    # Every control is reachable by Tab and shows a visible focus ring.
    reached = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        focus = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
                return [e.id || e.tagName, s.outlineStyle, parseFloat(s.outlineWidth)]; }"""
        )
        if focus[0] == "BODY":
            break
        assert focus[1] != "none" and focus[2] >= 2, focus
        reached.add(focus[0])
    # (A radio group takes one Tab stop; the arrow keys move within it.)
    for control in (
        "basis-net",
        "period-month",
        "projected",
        "apply-switches",
        "cohort-ltv-show-all",
    ):
        assert control in reached, (control, reached)
    assert {f"{s}-csv" for s in ("cohort-ltv", "refunds", "purchase-intervals")} <= reached
    assert problems == []
    page.close()


@pytest.mark.slow
def test_the_demo_report_fits_a_phone(browser, demo_pages, tmp_path):
    base_url, _ = demo_pages
    page, problems = open_report(browser, base_url, 390, 844)
    assert horizontal_overflow(page) <= 0
    # Wide tables scroll inside their own box instead.
    widths = page.eval_on_selector("#refunds", "t => [t.scrollWidth, t.parentElement.clientWidth]")
    assert widths[0] > widths[1]
    screenshot(page, "report-390.png", tmp_path)
    assert problems == []
    page.close()


def test_show_projected_is_a_keyboard_switch_and_draws_projections_apart(
    browser, demo_pages, tmp_path
):
    """Last in the module: it publishes a fit (plain SQL tables) into the demo's snapshot. The
    demo's own `ltv materialize` fitted the models already (a home without a fit is the page
    tests' case, tests/web/test_report_projected_page.py)."""
    base_url, settings = demo_pages
    page, problems = open_report(browser, base_url, 1280, 900)
    page.focus("#projected")
    page.keyboard.press("Space")
    page.focus("#apply-switches")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "projected=1" in page.url
    assert page.is_checked("#projected")
    assert "(BG/NBD + Gamma-Gamma)" in page.text_content("#projection-note")

    with duckdb.connect(str(settings.warehouse_path)) as conn:
        as_of = conn.execute("SELECT max(as_of_day) FROM cohort_ltv").fetchall()[0][0]
        # In place of the demo's own fit (too little data to be reliable): a reliable one.
        conn.execute(
            "DROP TABLE IF EXISTS ltv_model_fits; DROP TABLE IF EXISTS cohort_ltv_projected"
        )
        for (account,) in conn.execute("SELECT DISTINCT account FROM customers").fetchall():
            add_fit(conn, account, calibration_end=str(as_of))
            add_projections(conn, account, "net_revenue / nullif(eligible, 0) * 1.2 + 1")
        publish_reports(conn, settings.published_dir)
    page.reload()
    note = page.text_content("#projection-note")
    assert "Projected from the fit of" in note and "(BG/NBD + Gamma-Gamma); reliable." in note
    cells = page.eval_on_selector_all(
        "#cohort-ltv td.projected",
        """tds => tds.map(td => [td.dataset.value, td.dataset.projected,
            getComputedStyle(td.querySelector('em')).fontStyle,
            td.querySelector('.projected-mark').textContent])""",
    )
    assert cells, "no projected cell"
    assert all(
        v == "" and p and style == "italic" and mark == "projected" for v, p, style, mark in cells
    )
    dashes = page.eval_on_selector_all(
        "section[aria-labelledby='cohort-ltv-heading'] svg line.projected",
        "ls => ls.map(l => l.getAttribute('stroke-dasharray'))",
    )
    assert dashes and set(dashes) == {"4 4"}
    assert horizontal_overflow(page) <= 0
    screenshot(page, "report-projected-1280.png", tmp_path)
    assert problems == []
    page.close()
