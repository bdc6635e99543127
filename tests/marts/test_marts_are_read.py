"""Issue 14, item 1: the marts are the only place numbers are computed. Reports read mart rows
(a changed mart row shows in the report), every variant is stored, a past as-of day is built by
the same definitions on request and says so; and the per-customer marts replace exactly the
changed customers' rows."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest

from ltv_pipeline.defs.marts.assets import _preview, curve_metadata
from ltv_pipeline.defs.marts.build import MARTS, build_mart, build_marts, marts_as_of
from ltv_pipeline.defs.model.customers import build_customers
from ltv_pipeline.defs.model.subscriptions import build_subscriptions
from ltv_pipeline.defs.model.transactions import build_declined_charges, build_transactions
from ltv_pipeline.metrics.definitions import BASES, COHORT_STARTS, PERIODS, MetricOptions
from ltv_pipeline.reports.build import REPORTS, ReportError, build_report
from ltv_pipeline.warehouse.customer_changes import record_changed_customers
from tests.marts.cases import order_row, warehouse, webhook, write_orders
from tests.model.loading import load_csv, load_webhooks, rebuild

ROWS = [
    order_row(1, "01/01/2024", 10, 0, "free@x.io"),  # a $0 first order, paid later
    order_row(2, "02/10/2024", 11, 50, "free@x.io"),
    order_row(3, "01/03/2024", 10, 40, "a@x.io"),
    order_row(4, "01/20/2024", 12, 15, "a@x.io"),
    order_row(5, "02/01/2024", 10, 40, "b@x.io", status="Refunded"),
    order_row(6, "03/15/2024", 11, 50, "c@x.io"),
]


@pytest.fixture
def conn(ltv_home, tmp_path):
    with warehouse(ltv_home) as conn:
        load_csv(conn, ltv_home, write_orders(tmp_path / "orders.csv", ROWS))
        rebuild(conn)
        yield conn


def test_a_report_shows_the_mart_rows_it_reads(conn):
    before = build_report(conn, "cohort-ltv")[1]
    assert before[0][:3] == ["2024-01", 2, "20.00"]
    conn.execute(
        "UPDATE cohort_ltv SET net_revenue = 1000 WHERE cohort = '2024-01' AND horizon = 'd0' "
        "AND period = 'month' AND cohort_start = 'first_order'"
    )
    assert build_report(conn, "cohort-ltv")[1][0][:3] == ["2024-01", 2, "500.00"]


def test_a_report_without_its_marts_says_to_materialize(ltv_home, tmp_path):
    with warehouse(ltv_home, "model-only") as conn:
        load_csv(conn, ltv_home, write_orders(tmp_path / "o.csv", ROWS))
        rebuild(conn)
        conn.execute("DROP TABLE cohort_ltv")
        with pytest.raises(ReportError, match=r"marts are not built yet.*cohort_ltv"):
            build_report(conn, "cohort-ltv")


def test_every_variant_is_stored_and_equals_the_definitions_built_on_request(conn):
    stored_day = conn.execute("SELECT max(as_of_day) FROM cohort_ltv").fetchall()[0][0]
    assert stored_day == dt.date(2024, 3, 15)
    stored = {}
    for report in REPORTS:
        for start in COHORT_STARTS:
            for period in PERIODS:
                for basis in BASES:
                    options = MetricOptions(period=period, cohort_start=start)
                    stored[report, start, period, basis] = build_report(
                        conn, report, basis=basis, options=options
                    )
    # Building every mart for the same day into temporary tables gives the same figures.
    with marts_as_of(conn, tuple(MARTS), stored_day):
        for name in MARTS:
            temp = conn.execute(f"SELECT * FROM temp.main.{name} ORDER BY ALL").fetchall()
            kept = conn.execute(f"SELECT * FROM main.{name} ORDER BY ALL").fetchall()
            assert temp == kept, name
    # The cohort start changes who is in which cohort: free@x.io joins 2024-02 when paid.
    first = stored["cohort-ltv", "first_order", "month", "net"][1]
    paid = stored["cohort-ltv", "first_paid_order", "month", "net"][1]
    assert [r[:2] for r in first] == [["2024-01", 2], ["2024-02", 1], ["2024-03", 1]]
    assert [r[:2] for r in paid] == [["2024-01", 1], ["2024-02", 2], ["2024-03", 1]]
    days = stored["cohort-ltv", "first_order", "day", "gross"][1]
    assert [r[0] for r in days] == ["2024-01-01", "2024-01-03", "2024-02-01", "2024-03-15"]


def test_a_past_as_of_day_is_computed_on_request_and_says_so(conn):
    options = MetricOptions(as_of=dt.date(2024, 1, 31))
    _, rows, labels = build_report(conn, "cohort-ltv", options=options)
    assert [r[:2] for r in rows] == [["2024-01", 2]]  # later cohorts had not started
    assert any("computed on request" in label for label in labels)
    assert "computed on request" not in " ".join(build_report(conn, "cohort-ltv")[2])
    # The stored marts are untouched, and no temporary table is left behind.
    assert conn.execute("SELECT DISTINCT as_of_day FROM cohort_ltv").fetchall() == [
        (dt.date(2024, 3, 15),)
    ]
    assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


def test_per_customer_marts_replace_only_the_changed_customers(ltv_home, conn):
    # Mark an untouched customer's row: an incremental update must leave it as it is.
    conn.execute("UPDATE customer_ltv SET recurring_charges = 99 WHERE customer_key = 'c@x.io'")
    load_webhooks(
        conn,
        [
            (webhook("Order", 7, 12, 30, "a@x.io"), dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC)),
            (webhook("Order", 8, 10, 25, "new@x.io"), dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC)),
        ],
    )
    rebuild_model_only(conn)
    record_changed_customers(
        conn,
        "SELECT account, customer_key FROM customers WHERE customer_key IN ('a@x.io', 'new@x.io')",
    )
    build_marts(conn)
    rows = dict(conn.execute("SELECT customer_key, net_all FROM customer_ltv").fetchall())
    assert float(rows["a@x.io"]) == 85.0 and float(rows["new@x.io"]) == 25.0
    assert conn.execute(
        "SELECT recurring_charges FROM customer_ltv WHERE customer_key = 'c@x.io'"
    ).fetchall() == [(99,)]


def test_a_mart_built_for_a_chosen_day_is_rebuilt_whole_on_its_next_update(conn):
    build_mart(conn, MARTS["customer_ltv"], dt.date(2024, 1, 31))
    assert conn.execute("SELECT count(*) FROM customer_ltv").fetchall() == [(2,)]
    build_mart(conn, MARTS["customer_ltv"])
    assert conn.execute("SELECT count(*) FROM customer_ltv").fetchall() == [(4,)]


def rebuild_model_only(conn, rule: str = "email") -> None:
    """The model's tables rebuilt without a word to the change log (the test says who changed)."""
    build_subscriptions(conn, rule)
    build_transactions(conn, rule)
    build_declined_charges(conn, rule)
    build_customers(conn, rule)


def test_mart_previews_list_horizons_in_day_order_with_money_to_the_cent(conn):
    preview = _preview(conn, MARTS["cohort_ltv"]).value
    horizons = re.findall(r"\| (d\d+|all) \|", preview)
    assert horizons[:8] == ["d0", "d7", "d30", "d60", "d90", "d180", "d365", "all"]
    # The LTV cells are money (0.00), never a float's 0.0 beside a 119.33.
    assert "| 0.00 |" in preview and not re.search(r"\| -?\d+\.\d \|", preview)


def test_the_ui_chart_is_the_report_pages_svg_with_every_cohort(conn, tmp_path):
    metadata = curve_metadata(conn, MARTS["cohort_ltv"], tmp_path)
    svg = (tmp_path / "cohort_ltv.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "2024-01 (n=2)" in svg and "2024-03 (n=1)" in svg
    encoded = base64.b64encode(svg.encode()).decode()
    assert metadata["chart"].value.endswith(f"(data:image/svg+xml;base64,{encoded})")
    products = curve_metadata(conn, MARTS["ltv_by_front_end_product"], tmp_path)
    assert "Product 10" in products["net_ltv_table"].value
    assert "Product 10 (n=" in (tmp_path / "ltv_by_front_end_product.svg").read_text()
