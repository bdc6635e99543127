"""What users rely on while `ltv run` (what `make run` starts) is up, end to end, with nothing
started by hand: a delivery reaches the report page by itself, the webhook port exposes nothing
else, and a restart (even after the receiver was killed) counts nothing twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import time
import uuid
from pathlib import Path

import duckdb
import httpx
import pytest

from ltv_core.archive import partition_key_of
from ltv_core.formats.csv_file import inspect_file
from ltv_core.published_reports import read_published
from ltv_core.settings import Settings
from ltv_core.webhook_tokens import ensure_token
from ltv_pipeline.defs.model.transactions import SOURCE_WEBHOOK
from tests.support import DATA, ORDERS_SAMPLE, free_port
from tests.web.services import LtvRun, descendants

ORDER_BODY = json.loads((DATA / "webhooks" / "order.json").read_text())
WAIT_SECONDS = 600
WEBHOOK_SOURCE = SOURCE_WEBHOOK


def run_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LTV_DAGSTER_PORT": str(free_port()),
        "LTV_WEBHOOK_PORT": str(free_port()),
        "LTV_WEB_PORT": str(free_port()),
        **extra,
    }


def webhook_base(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['LTV_WEBHOOK_PORT']}"


def listening(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def new_sale(email: str, order_id: int, total: str = "97.00") -> dict:
    """The sample Order delivery, as a new sale to a new customer."""
    body = json.loads(json.dumps(ORDER_BODY))
    body["customer"]["email"] = email
    body["order"]["id"] = order_id
    body["order"]["total"] = total
    body["product"]["price"] = total
    body["product"]["transaction_id"] = f"ch_{order_id}"
    return body


def deliver(env: dict[str, str], home: Path, body: dict) -> None:
    token = ensure_token(home / "webhook_tokens.json", "default")
    answer = httpx.post(f"{webhook_base(env)}/webhooks/samcart/{token}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted"


def warehouse_rows(settings: Settings, sql: str) -> list[tuple]:
    """Read the warehouse between runs: a run holds it read-write, so wait for a gap."""
    deadline = time.monotonic() + 120
    while True:
        try:
            with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
                return conn.execute(sql).fetchall()
        except duckdb.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def cohort_row(settings: Settings, cohort: str) -> list | None:
    snapshot = read_published(settings.published_dir)
    if not snapshot or snapshot.get("status") != "ready":
        return None
    report = snapshot["reports"]["cohort-ltv/net/month"]
    return next((row for row in report.get("rows", []) if row[0] == cohort), None)


@pytest.mark.slow
def test_a_delivery_from_a_new_customer_reaches_the_model_the_marts_and_the_report_page(ltv_home):
    env = run_env()
    run = LtvRun(env)
    email = f"new.buyer.{uuid.uuid4().hex[:8]}@example.com"
    this_month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    try:
        run.wait_until(lambda: listening(f"{webhook_base(env)}/healthz"), 90, "the receiver")
        deliver(env, ltv_home.home, new_sale(email, 700100200, "123.45"))
        # Nothing but `ltv run` acts from here: the sensor, the automation and publishing.
        run.wait_until(
            lambda: cohort_row(ltv_home, this_month) is not None, WAIT_SECONDS, "publishing"
        )
        row = cohort_row(ltv_home, this_month)
        assert row is not None and row[1] == 1, row  # one customer in this month's cohort
        assert row[2] == "123.45", row  # day-0 LTV of that customer
        page = httpx.get(f"{run.base_url}/report", timeout=10).text
        assert this_month in page and "123.45" in page
        customers = warehouse_rows(
            ltv_home, f"SELECT count(*) FROM customers WHERE customer_key = '{email}'"
        )
        assert customers == [(1,)]
        mart = warehouse_rows(
            ltv_home,
            "SELECT customers, net_revenue FROM cohort_ltv "
            f"WHERE cohort = '{this_month}' AND horizon = 'd0' AND period = 'month' "
            "AND cohort_start = 'first_order'",
        )
        assert [(n, float(revenue)) for n, revenue in mart] == [(1, 123.45)]
    finally:
        assert run.stop() == 0
    assert run.survivors() == []


@pytest.mark.slow
def test_the_webhook_port_serves_only_the_webhook_route_and_healthz(ltv_home):
    env = run_env()
    run = LtvRun(env)
    base = webhook_base(env)
    try:
        run.wait_until(lambda: listening(f"{base}/healthz"), 90, "the receiver")
        run.wait_until(run.web_ready, 90, "the pages")
        token = ensure_token(ltv_home.webhook_tokens_path, "default")
        # The same paths on the pages' port do answer (so the test would see a leak).
        settings_page = httpx.get(f"{run.base_url}/settings", timeout=10)
        assert settings_page.status_code == 200 and token in settings_page.text
        for path in (
            "/",
            "/settings",
            "/report",
            "/upload",
            "/uploads/x",
            "/docs",
            "/redoc",
            "/openapi.json",
            f"/webhooks/samcart/{token}",
            "/webhooks",
            "/static/x",
        ):
            answer = httpx.get(f"{base}{path}", timeout=10)
            assert answer.status_code in (404, 405), (path, answer.status_code)
            assert token not in answer.text, path
        upload = httpx.post(f"{base}/upload", files={"file": ("a.csv", b"x")}, timeout=10)
        assert upload.status_code in (404, 405)
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        accepted = httpx.post(f"{base}/webhooks/samcart/{token}", json=ORDER_BODY, timeout=10)
        assert accepted.status_code == 200 and token not in accepted.text
    finally:
        assert run.stop() == 0


def receiver_pid(run: LtvRun) -> int:
    """The webhook receiver among `ltv run`'s processes (`python -m ltv_webhook`)."""
    for pid, _ in descendants(run.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ltv_webhook" in command:
            return pid
    raise AssertionError("no webhook receiver process under ltv run")


def totals(settings: Settings) -> list[tuple]:
    return warehouse_rows(
        settings,
        "SELECT sources, count(*), sum(amount) FROM transactions GROUP BY sources ORDER BY 1",
    )


def file_partition_runs(settings: Settings, partition: str) -> int:
    """How many runs ever materialized this raw file's partition (from Dagster's run storage)."""
    assert os.environ["DAGSTER_HOME"] == str(settings.dagster_home)
    from dagster import DagsterInstance, RunsFilter

    with DagsterInstance.get() as instance:
        return len(instance.get_runs(RunsFilter(tags={"dagster/partition": partition})))


@pytest.mark.slow
def test_restarting_ltv_run_ingests_nothing_twice_and_recovers_a_killed_receivers_log(ltv_home):
    env = run_env(LTV_WEBHOOK_SEAL_SECONDS="3600")  # deliveries stay in the receiver's log
    file_hash = inspect_file(ORDERS_SAMPLE).sha256
    result_file = ltv_home.results_dir / f"{file_hash}.json"
    first = LtvRun(env)
    try:
        first.wait_until(lambda: listening(f"{webhook_base(env)}/healthz"), 90, "the receiver")
        shutil.copy(ORDERS_SAMPLE, ltv_home.inbox_dir / "orders.csv")
        first.wait_until(
            lambda: cohort_row(ltv_home, "2024-01") is not None, WAIT_SECONDS, "the first report"
        )
        for n in range(3):
            deliver(env, ltv_home.home, new_sale(f"buyer{n}@example.com", 800100 + n, "10.00"))
        # The receiver dies before sealing its log: the three deliveries are only in that log.
        os.kill(receiver_pid(first), signal.SIGKILL)
        first.process.wait(timeout=60)  # ltv run sees its receiver gone and stops the rest
    finally:
        if first.process.poll() is None:
            first.stop()
    assert first.survivors() == []
    partition = partition_key_of(ltv_home.archive_dir, file_hash, "default")
    csv_before = [row for row in totals(ltv_home) if row[0] != WEBHOOK_SOURCE]
    assert csv_before, "the CSV's transactions were built before the restart"

    # The same file dropped again while down, then a restart on the same home.
    shutil.copy(ORDERS_SAMPLE, ltv_home.inbox_dir / "orders-again.csv")
    second = LtvRun(run_env(LTV_WEBHOOK_SEAL_SECONDS="1"))
    try:
        second.wait_until(
            lambda: not (ltv_home.inbox_dir / "orders-again.csv").exists(),
            WAIT_SECONDS,
            "the inbox sensor taking the second copy",
        )
        webhook_rows = lambda: [r for r in totals(ltv_home) if r[0] == WEBHOOK_SOURCE]  # noqa: E731
        second.wait_until(
            lambda: webhook_rows() == [(WEBHOOK_SOURCE, 3, pytest.approx(30.0))],
            WAIT_SECONDS,
            "the killed receiver's log reaching the model",
        )
        # The sensor takes the imported segment into its cursor on its next tick (every 5 s).
        second.wait_until(
            lambda: sensor_cursor(ltv_home, "webhook_sensor").get("offset", 0) > 0,
            WAIT_SECONDS,
            "the webhook sensor's cursor moving past the imported segment",
        )
    finally:
        assert second.stop() == 0
    assert [row for row in totals(ltv_home) if row[0] != WEBHOOK_SOURCE] == csv_before
    assert file_partition_runs(ltv_home, partition) == 1
    assert json.loads(result_file.read_text())["status"] == "duplicate"  # the second copy's
    cursor = sensor_cursor(ltv_home, "webhook_sensor")
    assert cursor["offset"] > 0 and cursor["pending"] == {}  # resumed, nothing left waiting


def sensor_cursor(settings: Settings, name: str) -> dict:
    """A sensor's stored cursor, from Dagster's schedule storage (what a restart resumes from)."""
    assert os.environ["DAGSTER_HOME"] == str(settings.dagster_home)
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        states = [s for s in instance.all_instigator_state() if s.name == name]
    assert len(states) <= 1, states
    cursor = states[0].instigator_data.cursor if states else None
    return json.loads(cursor) if cursor else {}
