"""The user's journey in headless Chromium, against the real services that `make run` starts.

`ltv run` on free ports with a temporary LTV_HOME; the webhook URL is on the settings page; the
three sample exports are uploaded through the page (one with the keyboard alone); the test waits
for the ingest and for the pipeline to publish the report, then checks the numbers the report
page shows against the marts in the warehouse. SIGTERM then stops everything, leaving no process.

Set LTV_UPDATE_SCREENSHOTS=1 to refresh docs/upload-page.png and docs/report-page.png.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from ltv_core.chart_series import PAGE_COHORTS
from ltv_core.published_reports import published_path
from ltv_core.settings import Settings
from ltv_core.webhook_tokens import notify_url
from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.metrics.definitions import MetricOptions
from ltv_pipeline.reports.build import build_report
from ltv_pipeline.warehouse.connection import connect_warehouse
from tests.support import LIMITED_SAMPLE, ORDERS_SAMPLE, RECURRING_SAMPLE, free_port
from tests.web.services import LtvRun

DOCS = Path(__file__).resolve().parents[2] / "docs"
UPLOADS = [
    (ORDERS_SAMPLE, "samcart-orders", 10),
    (RECURRING_SAMPLE, "samcart-recurring-subscriptions", 3),
    (LIMITED_SAMPLE, "detect", 3),
]
UNFINISHED = [DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
HORIZONS = ["d0", "d7", "d30", "d60", "d90", "d180", "d365", "all"]
# The report sections without a chart: (table id, report name), as on the default page.
PLAIN_SECTIONS = [
    ("payment-plans", "payment-plans"),
    ("subscriptions", "subscriptions"),
    ("refunds", "refunds"),
    ("purchase-intervals", "purchase-intervals"),
]


def screenshot(page, name: str, tmp_path: Path) -> None:
    target = DOCS / name if os.environ.get("LTV_UPDATE_SCREENSHOTS") == "1" else tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=False)


def report_is_current(settings: Settings) -> bool:
    """Every file is in, and each model, mart and report asset was rebuilt after its inputs.

    Runs go one at a time, so an asset materialized after each of its parents saw their latest
    data. Merely "published after the last file" is not enough: automation may rebuild the
    marts in one run and the model they read in the next.
    """
    path = published_path(settings.published_dir)
    if len(list(settings.results_dir.glob("*.json"))) < len(UPLOADS) or not path.exists():
        return False
    if json.loads(path.read_text())["status"] != "ready":
        return False
    graph = build_definitions().resolve_asset_graph()
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        if instance.get_run_records(RunsFilter(statuses=UNFINISHED)):
            return False

        def built_at(key: AssetKey) -> float:
            event = instance.get_latest_materialization_event(key)
            return event.timestamp if event else 0.0

        for key in graph.materializable_asset_keys:
            node = graph.get(key)
            if node.group_name in ("ltv_model", "ltv_marts") and any(
                built_at(parent) >= built_at(key) for parent in node.parent_keys
            ):
                return False
    return True


def pipeline_story(settings: Settings) -> str:
    """What ran when, and what the warehouse and the snapshot hold: for a failure message."""
    lines = []
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        for record in reversed(instance.get_run_records()):
            run = record.dagster_run
            keys = sorted(k.to_user_string() for k in run.asset_selection or [])
            lines.append(
                f"run {run.run_id[:8]} {run.status.value} start={record.start_time} "
                f"end={record.end_time} {run.job_name} {keys} {run.tags.get('dagster/partition')}"
            )
    lines += [
        f"result {r.name[:8]} mtime={r.stat().st_mtime}"
        for r in settings.results_dir.glob("*.json")
    ]
    path = published_path(settings.published_dir)
    lines.append(f"published mtime={path.stat().st_mtime}")
    published = json.loads(path.read_text())["reports"]
    lines.append(f"published payment-plans: {published.get('payment-plans/-/-')}")
    conn = connect_warehouse(settings.warehouse_path, read_only=True, timeout_seconds=120)
    try:
        for table in ("raw_samcart_payment_plans", "subscriptions", "payment_plans"):
            lines.append(f"{table}: {conn.execute(f'SELECT count(*) FROM {table}').fetchone()}")
    finally:
        conn.close()
    return "\n".join(lines)


def mart_curves(settings: Settings, table: str, key: str, where: str = "") -> dict:
    """{(group, horizon): (net_ltv, gross_ltv, censored)} from a curve mart."""
    conn = connect_warehouse(settings.warehouse_path, read_only=True, timeout_seconds=120)
    try:
        rows = conn.execute(
            f"SELECT {key}, horizon, net_ltv, gross_ltv, censored FROM {table} {where}"
        ).fetchall()
    finally:
        conn.close()
    return {(str(k), h): (net, gross, censored) for k, h, net, gross, censored in rows}


def shown_table(page, table_id: str) -> dict[tuple[str, str], str]:
    """{(row key, horizon): cell text} of a report table as the browser shows it."""
    cells = page.eval_on_selector_all(
        f"#{table_id} tbody tr td[data-col^='ltv_']",
        "tds => tds.map(td => [td.parentElement.dataset.key, td.dataset.col,"
        " td.textContent.trim() === '—' ? '—' : td.dataset.value])",
    )
    return {(key, col.removeprefix("ltv_")): text.strip() for key, col, text in cells}


def assert_matches_mart(shown: dict, mart: dict, basis: str) -> None:
    assert shown, "the report table is empty"
    assert {k for k in shown} == {k for k in mart}
    for cell, text in shown.items():
        net, gross, censored = mart[cell]
        if censored:
            assert text == "—", f"{cell}: censored in the mart, page shows {text}"
        else:
            expected = net if basis == "net" else gross
            assert abs(float(text) - float(expected)) < 0.006, f"{cell}: {text} != {expected}"


def reported_rows(settings: Settings, report: str) -> list[list[str]]:
    """What `ltv report` computes from the warehouse for the page's default view, as the page
    writes each cell (an empty one as the censored dash)."""
    conn = connect_warehouse(settings.warehouse_path, read_only=True, timeout_seconds=120)
    try:
        columns, rows, _ = build_report(conn, report, options=MetricOptions(period="month"))
    finally:
        conn.close()
    # The page names a group once: its name column is shown within its key's cell.
    shown = [i for i, column in enumerate(columns) if column != "group_name"]
    return [["—" if row[i] is None or row[i] == "" else str(row[i]) for i in shown] for row in rows]


def shown_rows(page, table_id: str) -> list[list[str]]:
    """Every row of a report table, each cell's published value (the dash when empty), as the
    browser holds them (the formatting is tested in test_report_in_browser.py)."""
    return page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        "trs => trs.map(tr => [...tr.querySelectorAll('td')].map(td =>"
        " td.dataset.value === '' ? '—' : td.dataset.value))",
    )


def assert_chart_draws(page, table_id: str, name_column: str) -> None:
    """The section's own chart has one series per row it charts (the latest PAGE_COHORTS),
    named as the table names them with their size, with a point for each uncensored cell."""
    section = f"section[aria-labelledby='{table_id}-heading']"
    charted = page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        f"""trs => trs.slice(-{PAGE_COHORTS}).map(tr => [
            tr.querySelector("td[data-col='{name_column}']").textContent.trim()
                + " (n=" + tr.querySelector("td[data-col='customers']").dataset.value + ")",
            [...tr.querySelectorAll("td[data-col^='ltv_']")]
                .filter(td => td.textContent.trim() !== "—").length])""",
    )
    assert charted, f"{table_id}: no rows to chart"
    legend = page.eval_on_selector_all(
        f"{section} svg.chart rect.legend + text", "ts => ts.map(t => t.textContent)"
    )
    names = [name for name, _ in charted]
    # The cohort chart adds the pooled all-customers line last (from the published overview).
    pooled = legend[len(names) :]
    assert legend[: len(names)] == names, f"{table_id}: chart series {legend}"
    assert len(pooled) <= 1 and all(p.startswith("All customers (n=") for p in pooled), legend
    points = page.locator(f"{section} svg.chart circle:not(.pooled)").count()
    assert points == sum(known for _, known in charted), f"{table_id}: {points} points"


@pytest.mark.slow
def test_upload_ingest_and_report_in_a_real_browser(browser, ltv_home, tmp_path):
    env = {
        **os.environ,
        "LTV_DAGSTER_PORT": str(free_port()),
        "LTV_WEBHOOK_PORT": str(free_port()),
        "LTV_WEB_PORT": str(free_port()),
    }
    settings = Settings.from_env(env)
    run = LtvRun(env)
    try:
        run.wait_until(run.web_ready, 90, "the pages answering")
        run.wait_until(lambda: any("Webhook URL" in ln for ln in run.lines), 10, "addresses")
        printed = run.output()
        assert f"http://127.0.0.1:{env['LTV_DAGSTER_PORT']}" in printed
        assert f"{run.base_url}/upload" in printed and f"{run.base_url}/report" in printed
        assert notify_url(settings, "default") in printed

        browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=run.base_url)
        page = browser.new_page()
        page.goto(f"{run.base_url}/settings")
        assert page.input_value("#webhook-url") == notify_url(settings, "default")
        assert re.search(r"/webhooks/samcart/[\w-]{20,}$", page.input_value("#webhook-url"))
        page.click("#copy-webhook")
        page.wait_for_function("document.getElementById('copy-status').textContent !== ''")
        assert page.text_content("#copy-status") == "Copied."
        assert page.evaluate("navigator.clipboard.readText()") == notify_url(settings, "default")

        for n, (sample, format_choice, rows) in enumerate(UPLOADS):
            page.goto(f"{run.base_url}/upload")
            page.set_input_files("#file", str(sample))
            page.select_option("#format", format_choice)
            if n == len(UPLOADS) - 1:
                page.focus("#account")  # the last one with the keyboard alone
                page.keyboard.press("Tab")
                page.keyboard.press("Enter")
            else:
                page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"/uploads/"))
            page.wait_for_selector("#outcome[data-state=loaded]", timeout=180_000)
            assert page.text_content("#rows-accepted") == str(rows)
            assert page.text_content("#rows-rejected") == "0"

        page.goto(f"{run.base_url}/upload")
        assert page.locator("#recent-uploads tbody tr").count() == len(UPLOADS)
        screenshot(page, "upload-page.png", tmp_path)

        run.wait_until(lambda: report_is_current(settings), 240, "the report published")
        cohorts = mart_curves(settings, "cohort_ltv", "cohort", "WHERE period = 'month'")
        products = mart_curves(settings, "ltv_by_front_end_product", "product_id")

        page.goto(f"{run.base_url}/report")
        assert_matches_mart(shown_table(page, "cohort-ltv"), cohorts, "net")
        assert_matches_mart(shown_table(page, "front-end-products"), products, "net")
        assert_chart_draws(page, "cohort-ltv", "cohort")
        assert_chart_draws(page, "front-end-products", "product_name")
        for table_id, report in PLAIN_SECTIONS:
            expected = reported_rows(settings, report)
            assert expected, f"{report}: nothing to show\n{pipeline_story(settings)}"
            assert shown_rows(page, table_id) == expected, table_id
        screenshot(page, "report-page.png", tmp_path)

        page.check("#basis-gross")
        page.click("#apply-switches")
        page.wait_for_url(re.compile(r"basis=gross"))
        assert_matches_mart(shown_table(page, "cohort-ltv"), cohorts, "gross")

        page.check("#period-week")
        page.click("#apply-switches")
        page.wait_for_url(re.compile(r"period=week"))
        weeks = mart_curves(settings, "cohort_ltv", "cohort", "WHERE period = 'week'")
        assert_matches_mart(shown_table(page, "cohort-ltv"), weeks, "gross")
        page.close()
    finally:
        code = run.stop()
    assert code == 0, run.output()
    assert run.survivors() == [], "processes of ltv run outlived it"
