"""Small cases worked by hand, one per rule of ltv-metrics.md."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from ltv_core.settings import Settings, SettingsError
from ltv_pipeline.defs.marts.build import MARTS, build_mart
from ltv_pipeline.defs.marts.checks import run_checks
from ltv_pipeline.metrics.definitions import MetricOptions, customer_key_sql
from ltv_pipeline.metrics.time_between_purchases import median_days_sql
from ltv_pipeline.reports.build import UnknownAccount, build_report
from tests.marts.cases import order_row, warehouse, webhook, write_orders
from tests.model.loading import load_csv, load_webhooks, rebuild
from tests.support import LIMITED_SAMPLE, ORDERS_SAMPLE, RECURRING_SAMPLE


def built(settings, tmp_path, rows, hooks=(), extra_files=()):
    conn_cm = warehouse(settings)
    conn = conn_cm.__enter__()
    load_csv(conn, settings, write_orders(tmp_path / "orders.csv", rows))
    for path in extra_files:
        load_csv(conn, settings, path)
    if hooks:
        load_webhooks(conn, list(hooks))
    rebuild(conn)
    return conn_cm, conn


@pytest.fixture
def model(ltv_home, tmp_path):
    opened = []

    def make(rows, hooks=(), extra_files=()):
        cm, conn = built(ltv_home, tmp_path, rows, hooks, extra_files)
        opened.append(cm)
        return conn

    yield make
    for cm in opened:
        cm.__exit__(None, None, None)


def cohort_rows(conn, **kwargs) -> list[list]:
    return build_report(conn, "cohort-ltv", **kwargs)[1]


def test_censoring_empties_a_cell_unless_every_member_is_old_enough(model):
    conn = model(
        [
            order_row(1, "01/01/2024", 10, 10, "a@x.io"),
            order_row(2, "01/25/2024", 10, 20, "b@x.io"),
            order_row(3, "01/20/2024", 11, 5, "a@x.io"),  # day 19 for a
            order_row(4, "02/20/2024", 10, 1, "c@x.io"),  # sets the as-of day, cohort 2024-02
        ]
    )
    # As of 02/20: b is 26 days in, so d30 is empty for 2024-01 (not averaged over a).
    assert cohort_rows(conn)[0] == [
        "2024-01",
        2,
        "15.00",
        "15.00",
        "",
        "",
        "",
        "",
        "",
        "17.50",
    ]
    # Move the as-of day: once b reaches day 30 the cell fills in with both members.
    later = cohort_rows(conn, options=MetricOptions(as_of=dt.date(2024, 2, 24)))
    assert later[0][:5] == ["2024-01", 2, "15.00", "15.00", "17.50"]
    flags = conn.execute(
        "SELECT censored, censored_reason FROM cohort_ltv WHERE period = 'month' "
        "AND cohort = '2024-01' AND horizon = 'd30' AND cohort_start = 'first_order'"
    ).fetchall()
    assert flags == [(True, "1 of 2 customers are not yet 30 days past their first purchase")]


def test_same_day_bumps_and_upsells_are_day_zero_value_not_repeats(model):
    conn = model(
        [
            order_row(100, "03/01/2024", 1, 47, "a@x.io", time="09:00:00"),
            order_row(100, "03/01/2024", 2, 17, "a@x.io", time="09:00:00"),  # order bump
            order_row(101, "03/01/2024", 3, 97, "a@x.io", time="09:05:00"),  # upsell
            order_row(200, "04/15/2024", 1, 47, "b@x.io"),
        ]
    )
    assert cohort_rows(conn)[0][:3] == ["2024-03", 1, "161.00"]
    front_end = conn.execute(
        "SELECT front_end_product_id FROM customers WHERE customer_key = 'a@x.io'"
    ).fetchall()
    assert front_end == [("1",)]  # the first order's highest-priced line, not the upsell
    repeats = conn.execute(
        "SELECT repeat_customers FROM repeat_purchase_rates WHERE dimension = 'cohort_month' "
        "AND group_key = '2024-03' AND horizon = 'all' AND cohort_start = 'first_order'"
    ).fetchall()
    assert repeats == [(0,)]


def test_front_end_ties_go_to_the_lowest_order_id_then_the_first_line(model):
    conn = model(
        [
            order_row(9, "03/01/2024", 5, 50, "a@x.io"),
            order_row(8, "03/01/2024", 6, 30, "a@x.io"),
            order_row(8, "03/01/2024", 7, 30, "a@x.io"),
        ]
    )
    assert conn.execute(
        "SELECT first_order_id, front_end_product_id FROM customers"
    ).fetchall() == [("8", "6")]


def test_refunds_full_partial_and_by_webhook(model):
    when = dt.datetime(2024, 3, 20, 12)
    conn = model(
        [
            order_row(1, "03/01/2024", 1, 100, "a@x.io", status="Refunded"),
            order_row(2, "03/02/2024", 1, 100, "b@x.io", status="Partially Refunded"),
            order_row(3, "03/03/2024", 1, 100, "c@x.io", status="Partially Refunded"),
        ],
        hooks=[(webhook("PartialRefund", 3, 1, 40, "c@x.io", refund_transaction_id="re_1"), when)],
    )
    refunds = conn.execute(
        "SELECT order_id, transaction_day, amount, refund_basis, flag FROM transactions "
        "WHERE kind = 'refund' ORDER BY order_id"
    ).fetchall()
    assert refunds == [
        ("1", dt.date(2024, 3, 1), Decimal("-100.00"), "export_status", None),
        (
            "2",
            dt.date(2024, 3, 2),
            Decimal("0.00"),
            "export_status",
            "partial_refund_amount_unknown",
        ),
        ("3", dt.date(2024, 3, 20), Decimal("-40.00"), "webhook", None),
    ]
    rates = conn.execute(
        "SELECT gross_charged, refunded_amount, orders, refunded_orders, refund_rate_amount, "
        "refund_rate_orders FROM refund_rates WHERE dimension = 'product' "
        "AND cohort_start = 'first_order'"
    ).fetchall()
    assert rates == [(Decimal("300.00"), Decimal("140.00"), 3, 3, 0.4667, 1.0)]


def test_state_only_moves_forward_whatever_file_comes_first(ltv_home, tmp_path):
    charged = write_orders(tmp_path / "a.csv", [order_row(1, "03/01/2024", 1, 80, "a@x.io")])
    refunded = write_orders(
        tmp_path / "b.csv", [order_row(1, "03/01/2024", 1, 80, "a@x.io", status="Refunded")]
    )
    totals = []
    for name, files in (("one", [charged, refunded]), ("two", [refunded, charged])):
        with warehouse(ltv_home, name) as conn:
            for path in files:
                load_csv(conn, ltv_home, path)
            rebuild(conn)
            totals.append(conn.execute("SELECT sum(amount), count(*) FROM transactions").fetchall())
    assert totals == [[(Decimal("0.00"), 2)]] * 2


def test_zero_dollar_orders_make_members_and_the_paid_option_moves_the_start(model):
    conn = model(
        [
            order_row(1, "01/05/2024", 1, 0, "free@x.io"),
            order_row(2, "01/06/2024", 1, 0, "later@x.io"),
            order_row(3, "02/10/2024", 2, 50, "later@x.io"),
        ]
    )
    assert cohort_rows(conn) == [
        ["2024-01", 2, "0.00", "0.00", "0.00", "", "", "", "", "25.00"],
    ]
    paid = cohort_rows(conn, options=MetricOptions(cohort_start="first_paid_order"))
    assert paid == [["2024-02", 1, "50.00", "", "", "", "", "", "", "50.00"]]


def test_email_case_and_spaces_are_one_customer_across_sources(model):
    when = dt.datetime(2024, 3, 2, 8)
    conn = model(
        [
            order_row(1, "03/01/2024", 1, 10, "  Bob@Example.COM "),
            order_row(2, "03/01/2024", 2, 5, "bob@example.com"),
        ],
        hooks=[(webhook("Order", 3, 3, 7, "BOB@example.com  "), when)],
    )
    assert conn.execute("SELECT customer_key FROM customers").fetchall() == [("bob@example.com",)]
    row = cohort_rows(conn)[0]
    assert row[:3] + row[-1:] == ["2024-03", 1, "15.00", "22.00"]


def test_payment_plans_and_subscriptions_from_the_samples(ltv_home):
    with warehouse(ltv_home) as conn:
        for path in (ORDERS_SAMPLE, RECURRING_SAMPLE, LIMITED_SAMPLE):
            load_csv(conn, ltv_home, path)
        rebuild(conn)
        # As of 04/14: 8001 (last due 03/10) and 8003 (last due 04/01) are past the 7-day
        # grace; 8001 completed, 8003 delinquent. 8002 is not due yet.
        _, plans, _ = build_report(conn, "payment-plans")
        assert plans[-1] == [
            "(all)",
            "(all plans)",
            3,
            2,
            "2700.00",
            "1800.00",
            "900.00",
            1,
            1,
            "0.5000",
            "0.6667",
            "0.5000",
        ]
        # MRR: 7001 at $29/month + 7003 at $1,200/year = 29 + 100; 7002 canceled.
        _, subs, labels = build_report(conn, "subscriptions")
        assert subs[0][:3] == [2, 2, "129.00"]
        assert any("formula" in label for label in labels)


def test_a_webhook_charge_replaces_the_rebuilt_charge_nearest_its_day(ltv_home):
    charge = webhook(
        "RecurringPaymentSucceeded",
        100200302,
        55502,
        29,
        "ada.lovelace@example.com",
        order={"subscription_id": 7001},
    )
    charge = charge.replace(b'"product": {', b'"product": {"transaction_id": "ch_1", ')
    with warehouse(ltv_home) as conn:
        for path in (ORDERS_SAMPLE, RECURRING_SAMPLE, LIMITED_SAMPLE):
            load_csv(conn, ltv_home, path)
        load_webhooks(conn, [(charge, dt.datetime(2024, 4, 16, 9))])
        rebuild(conn)
        rows = conn.execute(
            "SELECT transaction_id, transaction_day, is_rebuilt, flag FROM transactions "
            "WHERE subscription_id = '7001' AND kind = 'subscription_rebill'"
        ).fetchall()
        assert rows == [
            ("charge|7001|ch_1", dt.date(2024, 4, 16), False, "replaces_rebuilt_charge")
        ]
        assert conn.execute("SELECT sum(amount) FROM transactions").fetchall() == [
            (Decimal("4698.00"),)
        ]


def test_a_total_collected_that_does_not_add_up_is_reported(ltv_home, tmp_path):
    from ltv_pipeline.defs.model.reconciliation import collected_mismatches

    recurring = tmp_path / "recurring.csv"
    recurring.write_text(
        RECURRING_SAMPLE.read_text(encoding="utf-8").replace("Monthly,2,$58.00", "Monthly,2,$60.00")
    )
    with warehouse(ltv_home) as conn:
        for path in (ORDERS_SAMPLE, recurring, LIMITED_SAMPLE):
            load_csv(conn, ltv_home, path)
        rebuild(conn)
        assert collected_mismatches(conn, "email") == [
            ("default", "7001", Decimal("60.00"), Decimal("58.00"))
        ]


def test_accounts_never_mix_and_sum_across(ltv_home):
    with warehouse(ltv_home) as conn:
        for account in ("store-a", "store-b"):
            for path in (ORDERS_SAMPLE, RECURRING_SAMPLE, LIMITED_SAMPLE):
                load_csv(conn, ltv_home, path, account=account)
        rebuild(conn)
        assert conn.execute(
            "SELECT account, count(*) FROM customers GROUP BY 1 ORDER BY 1"
        ).fetchall() == [
            ("store-a", 3),
            ("store-b", 3),
        ]
        one = build_report(conn, "cohort-ltv", account="store-a")[1]
        both = build_report(conn, "cohort-ltv")[1]
        assert one[0][:3] == ["2024-01", 2, "164.50"]
        # Summed across accounts: twice the customers, the same LTV per customer.
        assert [[r[0], r[1] // 2, *r[2:]] for r in both] == one


def test_cohort_marts_use_the_as_of_day_the_customer_rows_were_brought_to(model):
    conn = model([order_row(1, "01/01/2024", 10, 10, "a@x.io")])
    assert conn.execute(
        "SELECT as_of_day FROM per_customer_marts_as_of WHERE mart = 'customer_ltv'"
    ).fetchall() == [(dt.date(2024, 1, 1),)]
    # A webhook run lands between the customer_ltv step and the cohort steps.
    later = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)
    load_webhooks(conn, [(webhook("Order", 9, 10, 5, "z@x.io"), later)])
    for name in ("cohort_ltv", "ltv_by_front_end_product", "refund_rates", "repeat_purchase_rates"):
        build_mart(conn, MARTS[name])
        assert conn.execute(f"SELECT DISTINCT as_of_day FROM {name}").fetchall() == [
            (dt.date(2024, 1, 1),)
        ], name
    # a's sums stop at 01/01, so day 30 stays censored rather than eligible at the later day.
    assert conn.execute(
        "SELECT eligible, censored FROM cohort_ltv WHERE period = 'month' AND horizon = 'd30' "
        "AND cohort_start = 'first_order'"
    ).fetchall() == [(0, True)]
    # The user's explicit day still wins.
    build_mart(conn, MARTS["cohort_ltv"], dt.date(2024, 2, 15))
    assert conn.execute("SELECT DISTINCT as_of_day FROM cohort_ltv").fetchall() == [
        (dt.date(2024, 2, 15),)
    ]


def test_a_webhook_refund_is_not_taken_off_each_occurrence_of_a_product(model):
    # Order 1 holds product 1 twice, both lines Refunded; one webhook refund covers one line.
    when = dt.datetime(2024, 3, 20, 12)
    conn = model(
        [
            order_row(1, "03/01/2024", 1, 100, "a@x.io", status="Refunded"),
            order_row(1, "03/01/2024", 1, 100, "a@x.io", status="Refunded"),
        ],
        hooks=[(webhook("Refund", 1, 1, 100, "a@x.io", refund_transaction_id="re_1"), when)],
    )
    refunds = conn.execute(
        "SELECT transaction_day, amount, refund_basis FROM transactions "
        "WHERE kind = 'refund' ORDER BY ALL"
    ).fetchall()
    assert refunds == [
        (dt.date(2024, 3, 1), Decimal("-100.00"), "export_status"),
        (dt.date(2024, 3, 20), Decimal("-100.00"), "webhook"),
    ]
    assert conn.execute("SELECT sum(amount) FROM transactions").fetchall() == [(Decimal("0.00"),)]


def test_mart_checks_pass_and_a_repeated_or_empty_key_fails_them(model):
    conn = model(
        [
            order_row(1, "01/01/2024", 10, 10, "a@x.io"),
            order_row(2, "01/02/2024", 11, 20, "b@x.io"),
        ]
    )
    for mart in MARTS.values():
        assert all(check.passed for check in run_checks(conn, mart)), mart.name
    customers = MARTS["customer_ltv"]
    conn.execute("UPDATE customer_ltv SET customer_key = NULL WHERE customer_key = 'a@x.io'")
    (check,) = [c for c in run_checks(conn, customers) if c.check_name == "keys_unique"]
    assert not check.passed and check.metadata["null_keys"].value == 1
    conn.execute("UPDATE customer_ltv SET customer_key = 'b@x.io' WHERE customer_key IS NULL")
    (check,) = [c for c in run_checks(conn, customers) if c.check_name == "keys_unique"]
    assert not check.passed and check.metadata["duplicates"].value == 1


def test_time_between_purchases_median_days_from_order_k_to_k_plus_1(model):
    conn = model(
        [
            order_row(1, "01/01/2024", 10, 50, "a@x.io"),
            order_row(2, "01/01/2024", 11, 20, "a@x.io", time="10:05:00"),  # an upsell: 0 days
            order_row(3, "01/11/2024", 12, 30, "a@x.io"),
            order_row(4, "01/31/2024", 12, 30, "a@x.io"),
            order_row(5, "01/01/2024", 10, 50, "b@x.io"),
            order_row(6, "01/05/2024", 12, 30, "b@x.io"),
            order_row(7, "01/01/2024", 10, 50, "c@x.io"),
            order_row(8, "01/02/2024", 10, 50, "d@x.io"),
            order_row(9, "01/22/2024", 12, 30, "d@x.io"),
            order_row(10, "01/03/2024", 10, 50, "e@x.io"),
            order_row(11, "01/04/2024", 12, 0, "e@x.io"),  # a $0 order is an order too
        ]
    )
    assert conn.execute(
        "SELECT from_order, days_between, customers FROM time_between_purchases ORDER BY ALL"
    ).fetchall() == [(1, 0, 1), (1, 1, 1), (1, 4, 1), (1, 20, 1), (2, 10, 1), (3, 20, 1)]
    # Gaps after order 1: 0, 1, 4, 20 -> median (1 + 4) / 2; after orders 2 and 3: one each.
    medians = conn.execute(median_days_sql("SELECT * FROM time_between_purchases")).fetchall()
    assert medians == [(1, 4, 2.5), (2, 1, 10.0), (3, 1, 20.0)]
    columns, rows, labels = build_report(conn, "purchase-intervals")
    assert columns == ["from_order", "customers", "median_days"]
    assert rows == [[1, 4, "2.5"], [2, 1, "10.0"], [3, 1, "20.0"]]
    assert any("order k to order k+1" in label for label in labels)
    with pytest.raises(UnknownAccount, match="unknown account 'other'; known: default"):
        build_report(conn, "purchase-intervals", account="other")


@pytest.mark.parametrize(
    ("email", "folded"),
    [
        ("j.o.e+news@gmail.com", "joe@gmail.com"),
        ("joe@googlemail.com", "joe@gmail.com"),
        ("j.oe+a+b@gmail.com", "joe@gmail.com"),
        ("j.oe+news@example.com", "j.oe+news@example.com"),  # other domains are left alone
        ("+news@gmail.com", "+news@gmail.com"),  # nothing left to fold: kept as it is
    ],
)
def test_gmail_folding_rule(email, folded):
    sql = customer_key_sql("e", "gmail-folded")
    assert duckdb.sql(f"SELECT {sql} FROM (SELECT ? AS e)", params=[email]).fetchall() == [
        (folded,)
    ]
    assert customer_key_sql("e", "email") == "e"


def test_gmail_folding_is_an_explicit_option_and_reports_say_so(ltv_home, tmp_path):
    rows = [
        order_row(1, "03/01/2024", 1, 10, "j.oe@gmail.com"),
        order_row(2, "03/05/2024", 2, 5, "joe+promo@googlemail.com"),
    ]
    cm, conn = built(ltv_home, tmp_path, rows)
    try:
        assert conn.execute("SELECT count(*) FROM customers").fetchall() == [(2,)]
        assert "customer key: email" in build_report(conn, "cohort-ltv")[2]
        rebuild(conn, rule="gmail-folded")
        assert conn.execute("SELECT customer_key FROM customers").fetchall() == [("joe@gmail.com",)]
        assert cohort_rows(conn)[0][:2] == ["2024-03", 1]
        assert "customer key: gmail-folded" in build_report(conn, "cohort-ltv")[2]
    finally:
        cm.__exit__(None, None, None)


def test_an_unknown_customer_key_rule_is_refused_by_name():
    with pytest.raises(SettingsError, match="LTV_CUSTOMER_KEY='phone': expected one of email"):
        Settings.from_env({"LTV_CUSTOMER_KEY": "phone"})
