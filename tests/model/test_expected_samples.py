"""shared/samples/expected.md, figure by figure: the three CSV exports alone, then with the
webhook bodies delivered today, through real Dagster runs and `ltv report`."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import duckdb
import pytest
from dagster import instance_for_test

from ltv_pipeline.cli.main import main
from ltv_pipeline.cli.report import print_report
from ltv_pipeline.metrics.definitions import MetricOptions
from ltv_pipeline.reports.build import build_report
from tests.model.dagster_runs import build_model_and_marts, deliver_webhooks, import_csv
from tests.support import DATA, LIMITED_SAMPLE, ORDERS_SAMPLE, RECURRING_SAMPLE

EXPECTED_CSV = """\
cohort,customers,ltv_d0,ltv_d7,ltv_d30,ltv_d60,ltv_d90,ltv_d180,ltv_d365,ltv_all
2024-01,2,164.50,164.50,164.50,614.50,836.00,,,850.50
2024-02,1,300.00,300.00,300.00,300.00,,,,2997.00
"""
WEBHOOKS = [
    "order.json",
    "order.json",
    "recurring_payment_succeeded.json",
    "refund.json",
    "cancel.json",
]


@pytest.fixture
def instance(ltv_home):
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        yield instance


def query(settings, sql: str) -> list[tuple]:
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def report(settings, name: str, fmt: str = "csv", **kwargs) -> str:
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        columns, rows, labels = build_report(conn, name, **kwargs)
    finally:
        conn.close()
    out = io.StringIO()
    print_report(out, fmt, columns, rows, labels)
    return out.getvalue()


def test_the_csv_exports_alone_give_every_figure_of_expected_md(ltv_home, instance, capsys):
    for path in (ORDERS_SAMPLE, RECURRING_SAMPLE, LIMITED_SAMPLE):
        import_csv(ltv_home, instance, path)
    result = build_model_and_marts(instance)
    assert all(c.passed for c in result.get_asset_check_evaluations())

    # 10 order lines; the one Refunded line is Grace's Launch Course.
    assert query(ltv_home, "SELECT count(*) FROM transactions WHERE kind = 'order_line'") == [(10,)]
    rebuilt = query(
        ltv_home,
        "SELECT subscription_id, transaction_day, amount FROM transactions WHERE is_rebuilt "
        "ORDER BY subscription_id, transaction_day",
    )
    assert rebuilt == [
        ("7001", dt.date(2024, 4, 14), Decimal("29.00")),
        ("8001", dt.date(2024, 2, 10), Decimal("300.00")),
        ("8001", dt.date(2024, 3, 10), Decimal("300.00")),
        ("8002", dt.date(2024, 4, 1), Decimal("300.00")),
    ]
    customers = query(
        ltv_home,
        "SELECT c.customer_key, c.first_order_id, c.first_purchase_day, "
        "strftime(c.first_purchase_day, '%Y-%m'), c.front_end_product_name, l.net_all, "
        "l.gross_all FROM customers c JOIN customer_ltv l USING (account, customer_key) "
        "ORDER BY c.customer_key",
    )
    assert customers == [
        (
            "ada.lovelace@example.com",
            "100200100",
            dt.date(2024, 1, 10),
            "2024-01",
            "Coaching (3 pay)",
            Decimal("1072.00"),
            Decimal("1072.00"),
        ),
        (
            "alan@bletchley.example",
            "100200200",
            dt.date(2024, 2, 1),
            "2024-02",
            "Coaching (3 pay)",
            Decimal("2997.00"),
            Decimal("2997.00"),
        ),
        (
            "grace@navy.example",
            "100200418",
            dt.date(2024, 1, 3),
            "2024-01",
            "Inner Circle Membership",
            Decimal("629.00"),
            Decimal("726.00"),
        ),
    ]
    totals = query(
        ltv_home,
        "SELECT sum(amount) FILTER (WHERE amount > 0), -sum(amount) FILTER (WHERE amount < 0), "
        "sum(amount) FROM transactions",
    )
    assert totals == [(Decimal("4795.00"), Decimal("97.00"), Decimal("4698.00"))]
    refund = query(
        ltv_home,
        "SELECT order_id, transaction_day, amount, refund_basis FROM transactions "
        "WHERE kind = 'refund'",
    )
    assert refund == [("100200417", dt.date(2024, 3, 15), Decimal("-97.00"), "export_status")]
    assert query(ltv_home, "SELECT DISTINCT as_of_day FROM cohort_ltv") == [(dt.date(2024, 4, 14),)]

    assert report(ltv_home, "cohort-ltv") == EXPECTED_CSV
    gross = report(ltv_home, "cohort-ltv", basis="gross").splitlines()
    assert gross[1] == "2024-01,2,164.50,164.50,164.50,614.50,884.50,,,899.00"
    assert gross[2] == EXPECTED_CSV.splitlines()[2]

    plans = query(
        ltv_home,
        "SELECT count(*), sum(booked), sum(collected), sum(outstanding), "
        "list(subscription_id ORDER BY subscription_id) FILTER (WHERE is_completed), "
        "list(subscription_id) FILTER (WHERE status = 'delinquent') FROM payment_plans",
    )
    assert plans == [
        (3, Decimal("2700.00"), Decimal("1800.00"), Decimal("900.00"), ["8001"], ["8003"])
    ]

    # The same through the command line, as a user runs it (read-only warehouse).
    assert main(["report", "cohort-ltv", "--format", "csv"]) == 0
    assert capsys.readouterr().out == EXPECTED_CSV
    assert main(["report", "cohort-ltv", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {
        "cohort": "2024-01",
        "customers": 2,
        "ltv_d0": 164.5,
        "ltv_d7": 164.5,
        "ltv_d30": 164.5,
        "ltv_d60": 614.5,
        "ltv_d90": 836.0,
        "ltv_d180": None,
        "ltv_d365": None,
        "ltv_all": 850.5,
    }


def test_the_webhook_bodies_on_top_change_exactly_what_expected_md_says(ltv_home, instance):
    for path in (ORDERS_SAMPLE, RECURRING_SAMPLE, LIMITED_SAMPLE):
        import_csv(ltv_home, instance, path)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    today = now.date()
    bodies = [(DATA / "webhooks" / name).read_bytes() for name in WEBHOOKS]
    deliver_webhooks(ltv_home, instance, bodies, now)
    result = build_model_and_marts(instance)
    assert all(c.passed for c in result.get_asset_check_evaluations())

    # order.json (twice) is the export's line 100200301/55501: still one line, export's date.
    assert query(
        ltv_home,
        "SELECT transaction_day, amount, sources FROM transactions "
        "WHERE transaction_id = 'line|100200301|55501|1'",
    ) == [(dt.date(2024, 3, 14), Decimal("97.00"), "orders_export,webhook")]
    # The 7001 charge is far from the rebuilt 04/14 slot: an extra charge today; the slot stays.
    assert query(
        ltv_home,
        "SELECT transaction_day, amount, is_rebuilt FROM transactions "
        "WHERE subscription_id = '7001' AND kind = 'subscription_rebill' ORDER BY ALL",
    ) == [(dt.date(2024, 4, 14), Decimal("29.00"), True), (today, Decimal("29.00"), False)]
    assert query(
        ltv_home,
        "SELECT order_id, transaction_day, amount, refund_basis FROM transactions "
        "WHERE kind = 'refund' ORDER BY transaction_day",
    ) == [
        ("100200417", dt.date(2024, 3, 15), Decimal("-97.00"), "export_status"),
        ("100200301", today, Decimal("-97.00"), "webhook"),
    ]
    assert query(ltv_home, "SELECT sum(amount) FROM transactions") == [(Decimal("4630.00"),)]
    assert query(ltv_home, "SELECT status FROM subscriptions WHERE subscription_id = '7002'") == [
        ("canceled",)
    ]
    assert query(ltv_home, "SELECT DISTINCT as_of_day FROM cohort_ltv") == [(today,)]
    # Every horizon has passed since 2024, so nothing is censored any more.
    assert report(ltv_home, "cohort-ltv").splitlines() == [
        EXPECTED_CSV.splitlines()[0],
        "2024-01,2,164.50,164.50,164.50,614.50,836.00,850.50,850.50,816.50",
        "2024-02,1,300.00,300.00,300.00,300.00,2997.00,2997.00,2997.00,2997.00",
    ]
    # Setting the as-of day back gives the CSV-only curves' censoring again.
    as_of = MetricOptions(as_of=dt.date(2024, 4, 14))
    assert report(ltv_home, "cohort-ltv", options=as_of) == EXPECTED_CSV
