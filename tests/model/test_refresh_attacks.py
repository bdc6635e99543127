"""Issue 14, attacked: arrival orders the property test does not draw, a changed customer-key rule,
marts built alone or half-way, and statements failing mid-refresh. Each case refreshes one real
warehouse step by step (the model, then the marts) and ends in the tables a fresh warehouse
given the same inputs builds in one go (every model table and mart, EXCEPT ALL both ways)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import duckdb
import pytest

from ltv_core.settings import Settings
from ltv_pipeline.defs.marts.build import MARTS, build_mart, build_marts
from ltv_pipeline.defs.model.build import build_model
from ltv_pipeline.metrics.definitions import MetricOptions
from ltv_pipeline.reports.build import REPORTS, build_report
from tests.marts.cases import order_row, warehouse, webhook, write_orders
from tests.marts.strategies import write_subscriptions
from tests.model.loading import load_csv, load_webhooks
from tests.warehouse_tables import REFRESHED_TABLES, assert_same_tables

DAY = dt.datetime(2024, 3, 1, 12)
names = itertools.count()


def at(days: int) -> dt.datetime:
    return DAY + dt.timedelta(days=days)


def subscription_row(subscription_id, email, product, created: str, price: int, charges: int):
    return [
        str(subscription_id),
        "First",
        "Last",
        email,
        str(product),
        f"Plan {product}",
        "Active",
        created,
        "",
        f"${price}.00",
        "Monthly",
        str(charges),
        f"${price * charges}.00",
    ]


class Home:
    """One warehouse refreshed after each arrival; remembers the inputs so that a fresh
    warehouse can be built from all of them at once."""

    def __init__(self, settings: Settings, folder: Path):
        self.settings, self.folder = settings, folder
        self.files: list[tuple[Path, str]] = []  # (path, account), in arrival order
        self.hooks: dict[str, list[tuple[bytes, dt.datetime]]] = {}
        self._open()

    def _open(self) -> None:
        self._warehouse = warehouse(self.settings, "refreshed")
        self.conn: duckdb.DuckDBPyConnection = self._warehouse.__enter__()

    def close(self) -> None:
        self._warehouse.__exit__(None, None, None)

    def export(self, rows, account="default", kind="orders", path: Path | None = None) -> Path:
        if path is None:
            writer = write_orders if kind == "orders" else write_subscriptions
            path = writer(self.folder / f"{kind}-{next(names)}.csv", rows)
        load_csv(self.conn, self.settings, path, account)
        self.files.append((path, account))
        return path

    def deliver(self, *hooks: tuple[bytes, dt.datetime], account="default") -> None:
        self.hooks.setdefault(account, []).extend(hooks)
        load_webhooks(self.conn, list(hooks), account)

    def refresh(self, rule: str = "email"):
        built = build_model(self.conn, rule)
        build_marts(self.conn)
        return built

    def assert_converged(self, rule: str = "email") -> None:
        """The refreshed tables equal one full build of every input in a fresh warehouse."""
        fresh = f"fresh-{next(names)}"
        with warehouse(self.settings, fresh) as conn:
            for path, account in dict.fromkeys(self.files):
                load_csv(conn, self.settings, path, account)
            for account, hooks in self.hooks.items():
                load_webhooks(conn, hooks, account)
            build_model(conn, rule)
            build_marts(conn)
        self.close()
        try:
            assert_same_tables(
                self.settings.home / "refreshed.duckdb",
                self.settings.home / f"{fresh}.duckdb",
                names=("refreshed step by step", "built in one go"),
            )
        finally:
            self._open()

    def one(self, sql: str, params=()):
        return self.conn.execute(sql, params).fetchall()


@pytest.fixture
def home(ltv_home, tmp_path):
    home = Home(ltv_home, tmp_path)
    try:
        yield home
    finally:
        home.close()


def test_the_same_email_in_two_accounts(home):
    home.export([order_row(1, "01/05/2024", 10, 10, "a@x.io")], account="shop1")
    home.refresh()
    home.export([order_row(1, "02/05/2024", 11, 30, "a@x.io")], account="shop2")
    home.refresh()
    home.deliver(
        (webhook("Refund", 1, 10, 10, "a@x.io", refund_transaction_id="r1"), at(0)), account="shop1"
    )
    assert home.refresh().incremental
    home.deliver((webhook("Order", 2, 12, 5, "a@x.io"), at(1)), account="shop2")
    assert home.refresh().incremental
    assert home.one("SELECT account, net_all FROM customer_ltv ORDER BY account") == [
        ("shop1", 0),
        ("shop2", 35),
    ]
    home.assert_converged()


def test_an_email_changing_between_export_webhook_and_a_third_source(home):
    home.export([order_row(5, "01/05/2024", 10, 10, "base@x.io")])
    home.refresh()
    home.deliver((webhook("Order", 1, 10, 40, "hook@x.io"), at(0)))
    home.refresh()
    home.export([order_row(1, "02/28/2024", 10, 40, "export@x.io")])
    home.refresh()
    # A refund of the same order, from a third email; then the first email buys again.
    home.deliver(
        (webhook("Refund", 1, 10, 40, "third@x.io", refund_transaction_id="r1"), at(2)),
        (webhook("Order", 2, 11, 7, "hook@x.io"), at(3)),
    )
    assert home.refresh().incremental
    assert home.one("SELECT customer_key FROM customers ORDER BY 1") == [
        ("base@x.io",),
        ("export@x.io",),
        ("hook@x.io",),
    ]
    assert home.one("SELECT net_all FROM customer_ltv WHERE customer_key = 'export@x.io'") == [(0,)]
    home.assert_converged()


def test_an_older_export_arriving_late_moves_the_cohort(home):
    home.deliver((webhook("Order", 20, 10, 40, "a@x.io"), at(0)))
    home.export([order_row(21, "03/10/2024", 11, 10, "a@x.io")])
    home.refresh()
    assert home.one("SELECT cohort FROM customer_ltv") == [("2024-03",)]
    home.export([order_row(1, "11/20/2023", 12, 25, "a@x.io")])  # the older history, late
    assert home.refresh().incremental
    assert home.one("SELECT cohort, front_end_product_id FROM customer_ltv") == [("2023-11", "12")]
    assert home.one(
        "SELECT cohort, customers FROM cohort_ltv WHERE period = 'month' AND horizon = 'd0' "
        "AND cohort_start = 'first_order' ORDER BY cohort"
    ) == [("2023-11", 1)]
    home.assert_converged()


def test_a_refund_webhook_before_any_export_of_its_order(home):
    home.export([order_row(5, "01/05/2024", 10, 10, "base@x.io")])
    home.refresh()
    home.deliver((webhook("Refund", 9, 10, 30, "r@x.io", refund_transaction_id="r9"), at(0)))
    assert home.refresh().incremental
    home.export([order_row(9, "02/20/2024", 10, 30, "buyer@x.io", status="Refunded")])
    assert home.refresh().incremental
    assert home.one(
        "SELECT customer_key, sum(amount) FROM transactions WHERE order_id = '9' GROUP BY 1"
    ) == [("buyer@x.io", 0)]
    home.assert_converged()


def test_a_subscription_export_under_another_email_than_its_checkout(home):
    home.export([order_row(3000, "01/10/2024", 50, 29, "buyer@x.io")])
    home.refresh()
    home.export(
        [subscription_row(7000, "billing@x.io", 50, "01/10/2024", 29, 3)], kind="subscriptions"
    )
    assert home.refresh().incremental
    home.deliver(
        (
            webhook(
                "RecurringPaymentSucceeded",
                3000,
                50,
                29,
                "buyer@x.io",
                order={"subscription_id": 7000},
                transaction_id="ch_1",
            ),
            dt.datetime(2024, 2, 10, 9),
        )
    )
    assert home.refresh().incremental
    # The checkout names the order of the subscription only by customer, product and day.
    home.export([order_row(3000, "01/10/2024", 50, 29, "billing@x.io")])
    home.refresh()
    home.assert_converged()


def test_a_free_first_order_then_a_paid_one(home):
    home.export([order_row(1, "01/05/2024", 10, 0, "free@x.io")])
    home.refresh()
    assert home.one("SELECT first_paid_purchase_day FROM customer_ltv") == [(None,)]
    home.deliver((webhook("Order", 2, 11, 50, "free@x.io"), dt.datetime(2024, 2, 10, 9)))
    assert home.refresh().incremental
    assert home.one("SELECT first_paid_purchase_day FROM customer_ltv") == [(dt.date(2024, 2, 10),)]
    assert home.one(
        "SELECT cohort, customers FROM cohort_ltv WHERE period = 'month' AND horizon = 'd0' "
        "AND cohort_start = 'first_paid_order'"
    ) == [("2024-02", 1)]
    home.assert_converged()


def test_the_same_file_imported_under_another_account(home):
    path = home.export([order_row(1, "01/05/2024", 10, 10, "a@x.io")], account="shop1")
    home.refresh()
    home.export([], account="shop2", path=path)
    built = home.refresh()
    assert built.incremental and built.new_partitions == 1
    assert home.one("SELECT account FROM customer_ltv ORDER BY 1") == [("shop1",), ("shop2",)]
    home.assert_converged()


def test_a_changed_customer_key_rule_between_refreshes(home):
    home.export(
        [
            order_row(1, "01/05/2024", 10, 10, "a.b@gmail.com"),
            order_row(2, "02/05/2024", 11, 20, "ab+news@gmail.com"),
        ]
    )
    home.refresh()
    assert home.one("SELECT count(*) FROM customer_ltv") == [(2,)]
    home.deliver((webhook("Order", 3, 12, 5, "c@x.io"), at(0)))
    home.refresh()  # an incremental step, so the marts have applied something of the log
    built = home.refresh("gmail-folded")
    assert not built.incremental
    assert home.one("SELECT customer_key, net_all FROM customer_ltv ORDER BY 1") == [
        ("ab@gmail.com", 30),
        ("c@x.io", 5),
    ]
    home.deliver((webhook("Order", 4, 12, 5, "A.B+x@gmail.com"), at(1)))
    assert home.refresh("gmail-folded").incremental
    home.assert_converged("gmail-folded")


def _history_with_subscriptions(home) -> None:
    """Sales, a repeat purchase, a refund and a subscription, spread over months."""
    home.export(
        [
            order_row(1, "01/05/2024", 10, 40, "a@x.io"),
            order_row(2, "01/06/2024", 11, 30, "b@x.io"),
            order_row(3, "03/20/2024", 12, 20, "a@x.io"),
            order_row(4, "04/02/2024", 10, 40, "c@x.io", status="Refunded"),
            order_row(3000, "02/01/2024", 50, 29, "b@x.io"),
        ]
    )
    home.export([subscription_row(7000, "b@x.io", 50, "02/01/2024", 29, 3)], kind="subscriptions")
    home.refresh()


@pytest.mark.parametrize("report", REPORTS)
def test_a_report_as_of_a_past_day_equals_the_marts_built_for_that_day(home, report):
    _history_with_subscriptions(home)
    past = dt.date(2024, 2, 15)
    asked = build_report(home.conn, report, options=MetricOptions(as_of=past))
    build_marts(home.conn, past)  # the stored marts, built for that day
    stored = build_report(home.conn, report)
    assert asked[1] == stored[1]


KEPT_TABLES = (
    *REFRESHED_TABLES,
    "model_identities",
    "model_inputs",
    "model_build",
    "customer_changes",
    "customer_changes_applied",
    "per_customer_marts_as_of",
)


def _snapshot(conn) -> dict[str, list[tuple]]:
    return {t: conn.execute(f"SELECT * FROM main.{t} ORDER BY ALL").fetchall() for t in KEPT_TABLES}


def _refuse(conn, table: str, columns: str, check: str) -> None:
    """`table` again with its rows, now with a CHECK that fails the statement we aim at (as a
    full disk or an out-of-memory error would fail any statement)."""
    conn.execute(f"CREATE TEMP TABLE kept AS SELECT * FROM main.{table}")
    conn.execute(f"DROP TABLE main.{table}")
    conn.execute(f"CREATE TABLE main.{table} ({columns}, CHECK ({check}))")
    conn.execute(f"INSERT INTO main.{table} SELECT * FROM temp.kept")
    conn.execute("DROP TABLE temp.kept")


def _allow(conn, table: str, columns: str) -> None:
    conn.execute(f"CREATE TEMP TABLE kept AS SELECT * FROM main.{table}")
    conn.execute(f"DROP TABLE main.{table}")
    conn.execute(f"CREATE TABLE main.{table} ({columns})")
    conn.execute(f"INSERT INTO main.{table} SELECT * FROM temp.kept")
    conn.execute("DROP TABLE temp.kept")


CHANGES = "seq BIGINT NOT NULL, account VARCHAR, customer_key VARCHAR"
APPLIED = "consumer VARCHAR PRIMARY KEY, seq BIGINT NOT NULL"


def test_a_model_build_failing_after_replacing_rows_keeps_the_last_build(home):
    _history_with_subscriptions(home)
    home.deliver((webhook("Order", 2, 11, 5, "b@x.io"), at(0)))
    home.refresh()
    before = _snapshot(home.conn)
    home.deliver((webhook("Order", 8, 12, 9, "new@x.io"), at(1)))
    # The change log refuses the new customer: the statement after the model rows are replaced.
    _refuse(home.conn, "customer_changes", CHANGES, "customer_key IS DISTINCT FROM 'new@x.io'")
    with pytest.raises(duckdb.ConstraintException, match="CHECK constraint"):
        build_model(home.conn)
    _allow(home.conn, "customer_changes", CHANGES)
    assert _snapshot(home.conn) == before
    assert home.refresh().incremental
    home.assert_converged()


def test_a_mart_step_failing_half_way_leaves_marts_at_different_log_positions(home):
    _history_with_subscriptions(home)
    home.deliver((webhook("Order", 2, 11, 5, "b@x.io"), at(0)))
    home.refresh()
    home.deliver((webhook("Order", 8, 12, 9, "new@x.io"), at(1)))
    build_model(home.conn)
    before = _snapshot(home.conn)
    # customer_ltv catches up; customer_products fails as it marks its work applied.
    (applied,) = home.conn.execute(
        "SELECT seq FROM customer_changes_applied WHERE consumer = 'customer_products'"
    ).fetchall()[0]
    _refuse(
        home.conn,
        "customer_changes_applied",
        APPLIED,
        f"consumer <> 'customer_products' OR seq <= {applied}",
    )
    with pytest.raises(duckdb.ConstraintException, match="CHECK constraint"):
        build_marts(home.conn)
    _allow(home.conn, "customer_changes_applied", APPLIED)
    after = _snapshot(home.conn)
    assert after["customer_products"] == before["customer_products"]
    assert after["customer_ltv"] != before["customer_ltv"]
    positions = dict(after["customer_changes_applied"])
    assert positions["customer_products"] < positions["customer_ltv"]
    # Another arrival and model build before the marts run again; then they converge.
    home.deliver((webhook("Refund", 8, 12, 9, "new@x.io", refund_transaction_id="r8"), at(2)))
    assert build_model(home.conn).incremental
    build_marts(home.conn)
    home.assert_converged()


def test_a_group_mart_built_alone_while_the_others_lag(home):
    _history_with_subscriptions(home)
    home.deliver((webhook("Order", 8, 12, 9, "new@x.io"), at(1)))
    build_model(home.conn)
    build_mart(home.conn, MARTS["cohort_ltv"])  # over day groups the model has moved past
    build_mart(home.conn, MARTS["cohort_ltv"])
    home.deliver((webhook("Order", 9, 10, 4, "a@x.io"), at(2)))
    home.refresh()
    home.assert_converged()


def test_a_per_customer_mart_built_for_a_past_day_then_a_refresh(home):
    _history_with_subscriptions(home)
    past = dt.date(2024, 2, 15)
    build_mart(home.conn, MARTS["customer_ltv"], past)
    # The groups built on it follow its day, not the data's.
    build_mart(home.conn, MARTS["ltv_daily_groups"])
    build_mart(home.conn, MARTS["cohort_ltv"])
    assert home.one("SELECT DISTINCT as_of_day FROM cohort_ltv") == [(past,)]
    home.deliver((webhook("Order", 8, 12, 9, "new@x.io"), at(1)))
    assert build_model(home.conn).incremental
    build_marts(home.conn)
    home.assert_converged()


def test_the_marts_of_a_past_day_then_an_incremental_refresh(home):
    _history_with_subscriptions(home)
    build_marts(home.conn, dt.date(2024, 1, 31))
    home.deliver((webhook("Order", 8, 12, 9, "new@x.io"), at(1)))
    home.refresh()
    home.assert_converged()


@pytest.mark.parametrize("model_built", [True, False])
def test_a_report_while_the_marts_are_older_than_the_data_says_so(home, model_built):
    _history_with_subscriptions(home)
    stored = home.one("SELECT max(as_of_day) FROM cohort_ltv")[0][0]
    home.deliver((webhook("Order", 8, 12, 9, "new@x.io"), dt.datetime(2024, 5, 20, 9)))
    if model_built:
        build_model(home.conn)
    _, _, labels = build_report(home.conn, "cohort-ltv")
    assert labels[0].startswith(f"as of {stored.isoformat()}")
    assert "latest day in the data" not in labels[0]
    assert any("2024-05-20" in label and "ltv materialize" in label for label in labels), labels
    # Asked for the stored day itself: the stored marts, with no on-request label.
    labels = build_report(home.conn, "cohort-ltv", options=MetricOptions(as_of=stored))[2]
    assert not any("on request" in label for label in labels)
    # Asked for a later day: built on request from the model as it is.
    later = dt.date(2024, 6, 1)
    _, later_rows, labels = build_report(
        home.conn, "cohort-ltv", options=MetricOptions(as_of=later)
    )
    assert any("on request" in label for label in labels)
    customers = sum(r[1] for r in later_rows)
    assert customers == (4 if model_built else 3)
