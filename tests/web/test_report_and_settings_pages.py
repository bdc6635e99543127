"""The report page reads only the published snapshot; the settings page shows the webhook URL."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest
from fastapi.testclient import TestClient

from ltv_core.published_reports import (
    BUILDING,
    FAILED,
    PENDING,
    UP_TO_DATE,
    VARIANTS,
    PipelineState,
    enter_state,
    read_published,
    write_published,
    write_state,
)
from ltv_core.settings import DEFAULT_ACCOUNT
from ltv_pipeline.cli.run_services import addresses, service_commands
from ltv_pipeline.cli.webhooks import print_webhook_url
from ltv_web.app import create_app
from tests.support import LOCAL_PAGES_URL

COHORT_COLUMNS = [
    "cohort",
    "customers",
    "ltv_d0",
    "ltv_d7",
    "ltv_d30",
    "ltv_d60",
    "ltv_d90",
    "ltv_d180",
    "ltv_d365",
    "ltv_all",
]


def snapshot() -> dict:
    """A published document as the pipeline writes it (see ltv_core.published_reports)."""
    reports = {}
    for variant in VARIANTS:
        scale = 2 if variant.basis == "gross" else 1
        if variant.report == "cohort-ltv":
            first = "2024-01" if variant.period == "month" else "2024-W02"
            rows = [
                [first, 2, f"{100 * scale:.2f}", "", "", "", "", "", "", ""],
                [
                    "2024-02" if variant.period == "month" else "2024-W06",
                    1,
                    "50.00",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ],
            ]
            reports[variant.key] = {
                "report": variant.report,
                "columns": COHORT_COLUMNS,
                "rows": rows,
                "labels": ["basis: x"],
            }
        elif variant.report == "payment-plans":
            reports[variant.key] = {"report": variant.report, "error": "Binder Error: boom"}
        else:
            reports[variant.key] = {
                "report": variant.report,
                "columns": ["group_key", "value"],
                "rows": [["k", "1.00"]],
                "labels": [],
            }
    return {"status": "ready", "reason": None, "reports": reports}


@pytest.fixture
def client(ltv_home) -> TestClient:
    return TestClient(create_app(ltv_home), base_url=LOCAL_PAGES_URL)


def test_before_anything_is_published_the_page_says_what_to_do(client):
    html = client.get("/report").text
    assert "No report yet" in html and 'href="/upload"' in html


def test_a_not_ready_snapshot_says_why(client, ltv_home):
    write_published(
        ltv_home.published_dir,
        {"status": "not_ready", "reason": "the model is not built", "reports": {}},
    )
    assert "not ready yet: the model is not built" in client.get("/report").text


def test_the_switches_pick_the_published_variant(client, ltv_home):
    write_published(ltv_home.published_dir, snapshot())
    net = client.get("/report").text
    assert '<tr data-key="2024-01">' in net and ">$100.00<" in net
    assert 'title="right-censored">—<' in net
    assert "<svg" in net and "Net LTV per customer by month cohort" in net
    gross = client.get("/report?basis=gross&period=week").text
    assert '<tr data-key="2024-W02">' in gross and ">$200.00<" in gross
    assert 'id="basis-gross" name="basis" value="gross" checked' in gross
    assert 'id="period-week" name="period" value="week" checked' in gross
    # One broken report does not hide the others.
    assert "could not be computed: Binder Error: boom" in net
    assert 'id="subscriptions"' in net and 'id="refunds"' in net
    assert 'id="purchase-intervals"' in net and "Time between purchases" in net
    # Unknown switch values fall back to the defaults rather than failing.
    assert '<tr data-key="2024-01">' in client.get("/report?basis=x&period=y").text


def test_an_agency_switches_the_page_to_one_account(client, ltv_home):
    document = snapshot()
    store_b = snapshot()
    key = next(v.key for v in VARIANTS if v.report == "cohort-ltv")
    store_b["reports"][key]["rows"] = [["2024-03", 7, "12.34", "", "", "", "", "", "", ""]]
    document["accounts"] = ["store-a", "store-b"]
    document["by_account"] = {"store-a": snapshot()["reports"], "store-b": store_b["reports"]}
    write_published(ltv_home.published_dir, document)
    overall = client.get("/report").text
    assert '<select id="account" name="account"' in overall
    assert '<option value="" selected>All accounts</option>' in overall
    assert '<tr data-key="2024-01">' in overall
    one = client.get("/report?account=store-b").text
    assert '<option value="store-b" selected>store-b</option>' in one
    assert '<tr data-key="2024-03">' in one and ">$12.34<" in one
    assert '<tr data-key="2024-01">' not in one
    unknown = client.get("/report?account=nope").text
    assert "No account named &#39;nope&#39; in the data; showing all accounts." in unknown
    assert '<tr data-key="2024-01">' in unknown


def test_one_account_gets_no_account_switch(client, ltv_home):
    write_published(ltv_home.published_dir, {**snapshot(), "accounts": ["default"]})
    assert '<select id="account"' not in client.get("/report").text


def test_a_snapshot_is_replaced_whole(ltv_home):
    write_published(ltv_home.published_dir, snapshot())
    write_published(ltv_home.published_dir, {"status": "ready", "reason": None, "reports": {}})
    assert read_published(ltv_home.published_dir)["reports"] == {}
    assert [p.name for p in ltv_home.published_dir.iterdir()] == ["reports.json"]


def test_the_settings_page_shows_the_url_ltv_webhook_url_prints(client, ltv_home):
    html = client.get("/settings").text
    out = io.StringIO()
    with redirect_stdout(out):
        print_webhook_url(ltv_home, None, DEFAULT_ACCOUNT)
    url = out.getvalue().splitlines()[0]
    assert f'value="{url}"' in html
    assert '<label for="webhook-url">' in html and 'id="copy-webhook"' in html
    assert "Product Purchased" in html and "Subscription Charged" in html


def test_ltv_run_serves_the_pages_on_their_own_loopback_listener(ltv_home):
    commands = service_commands(ltv_home)
    assert set(commands) == {"dagster", "webhooks", "web"}
    web = commands["web"]
    assert web[web.index("--host") + 1] == "127.0.0.1"
    assert (
        web[web.index("--port") + 1]
        != commands["webhooks"][commands["webhooks"].index("--port") + 1]
    )
    lines = addresses(ltv_home)
    assert [line.split(":")[0] for line in lines] == [
        "Dagster UI",
        "Upload and report pages",
        "Webhook URL for SamCart",
    ]


def test_the_page_says_when_its_numbers_are_stale(client, ltv_home):
    """Read from the pipeline's state file beside the snapshot, and from nothing else."""
    published = ltv_home.published_dir
    write_published(published, snapshot())
    as_of = read_published(published)["published_at"]
    write_state(published, PipelineState(UP_TO_DATE, "2024-05-01T10:00:00+00:00", None, "X"))
    fresh = client.get("/report").text
    assert 'id="report-stale"' not in fresh and "data taken in up to X" in fresh
    enter_state(published, BUILDING)
    building = client.get("/report").text
    assert f"Numbers as of {as_of} (UTC); a rebuild is running since" in building
    assert '<tr data-key="2024-01">' in building  # the old numbers stay, with the notice
    enter_state(published, FAILED, error="IOException: warehouse busy\n  at line 2 of a trace")
    failed = client.get("/report").text
    assert "the last rebuild failed at" in failed
    assert "(UTC): IOException: warehouse busy</p>" in failed
    enter_state(published, PENDING)
    assert "waits for a rebuild" in client.get("/report").text
