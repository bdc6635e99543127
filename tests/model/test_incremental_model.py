"""An incremental model build gives the tables of a full rebuild of the same inputs, and logs
only the customers it rebuilt; anything it cannot add to (another customer-key rule, an input
removed, re-parsed or newly left out, no record of the last build) rebuilds from scratch."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from ltv_core.partition_keys import file_partition_key
from ltv_pipeline.contracts.left_out import record_verdict
from ltv_pipeline.defs.model.admitted_inputs import admitted_raw_inputs
from ltv_pipeline.defs.model.build import MODEL_TABLES, ModelBuild, build_model, update_model
from tests.marts.cases import order_row, warehouse, webhook, write_orders
from tests.model.loading import load_csv, load_webhooks
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE

DAY = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def at(days: int) -> dt.datetime:
    return DAY + dt.timedelta(days=days)


class History:
    """One warehouse fed step by step, with the model built incrementally after each step."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, settings, tmp_path: Path):
        self.conn, self.settings, self.tmp_path = conn, settings, tmp_path
        self.hooks: list[tuple[bytes, dt.datetime]] = []
        self.files = 0

    def export(self, rows: list[list[str]]) -> None:
        self.files += 1
        load_csv(self.conn, self.settings, write_orders(self.tmp_path / f"o{self.files}.csv", rows))

    def deliver(self, *hooks: tuple[bytes, dt.datetime]) -> None:
        self.hooks += hooks
        load_webhooks(self.conn, self.hooks)

    def refresh(self) -> ModelBuild:
        """Build, then prove the tables equal a full rebuild of the same inputs."""
        built = build_model(self.conn)
        assert_equals_full_rebuild(self.conn)
        return built

    def changed(self) -> set[str]:
        """The customers the latest build logged for the marts (None: everything)."""
        return {
            r[0]
            for r in self.conn.execute(
                "SELECT customer_key FROM customer_changes "
                "WHERE seq = (SELECT max(seq) FROM customer_changes)"
            ).fetchall()
        }


def assert_equals_full_rebuild(conn: duckdb.DuckDBPyConnection) -> None:
    """EXCEPT ALL both ways between the stored tables and a full rebuild made in a transaction
    that is rolled back, so the warehouse goes on from its incremental state."""
    for table in MODEL_TABLES:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE kept_{table} AS SELECT * FROM {table}")
    conn.execute("BEGIN TRANSACTION")
    try:
        with admitted_raw_inputs(conn):
            update_model(conn, full=True)
        for table in MODEL_TABLES:
            for one, other in ((table, f"kept_{table}"), (f"kept_{table}", table)):
                extra = conn.execute(
                    f"SELECT * FROM {one} EXCEPT ALL SELECT * FROM {other}"
                ).fetchall()
                assert not extra, f"{table}: rows only in {one}: {extra}"
    finally:
        conn.execute("ROLLBACK")
        for table in MODEL_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS kept_{table}")


@pytest.fixture
def history(ltv_home, tmp_path):
    with warehouse(ltv_home) as conn:
        yield History(conn, ltv_home, tmp_path)


def charge(subscription_id: int, email: str, transaction_id: str, price: str) -> bytes:
    return json.dumps(
        {
            "type": "RecurringPaymentSucceeded",
            "customer": {"email": email},
            "order": {"id": 900, "total": price, "subscription_id": subscription_id},
            "product": {
                "id": "55502",
                "name": "Inner Circle Membership",
                "price": price,
                "transaction_id": transaction_id,
            },
        }
    ).encode()


def test_overlapping_exports_and_webhooks_of_new_and_known_customers(history):
    history.export(
        [
            order_row(1, "01/05/2024", 10, 10, "a@x.io"),
            order_row(2, "01/06/2024", 10, 10, "b@x.io"),
            order_row(3, "01/07/2024", 11, 20, "c@x.io"),
        ]
    )
    first = history.refresh()
    assert not first.incremental and "no record" in first.full_reason
    assert history.changed() == {None}  # everything
    # A second export overlapping the first: the customer it shares, and the new one.
    history.export(
        [order_row(3, "01/07/2024", 11, 20, "c@x.io"), order_row(4, "01/08/2024", 10, 10, "d@x.io")]
    )
    second = history.refresh()
    assert second.incremental and second.new_partitions == 1, second
    assert history.changed() == {"c@x.io", "d@x.io"}
    # Webhooks: a new customer, and a known one buying again.
    history.deliver(
        (webhook("Order", 5, 10, 10, "e@x.io"), at(0)),
        (webhook("Order", 6, 11, 20, "a@x.io"), at(1)),
    )
    third = history.refresh()
    assert third.incremental and third.new_deliveries == 2 and third.customers_touched == 2
    assert history.changed() == {"e@x.io", "a@x.io"}
    # A refund of an exported line.
    history.deliver((webhook("Refund", 1, 10, 10, "a@x.io", refund_transaction_id="re_1"), at(2)))
    fourth = history.refresh()
    assert fourth.incremental and history.changed() == {"a@x.io"}
    assert (
        history.conn.execute(
            "SELECT sum(amount) FROM transactions WHERE customer_key = 'a@x.io'"
        ).fetchall()[0][0]
        == 20
    )
    # Nothing new: nothing rebuilt, nobody logged.
    fifth = history.refresh()
    assert fifth.incremental and fifth.customers_touched == 0


def test_an_export_arriving_after_the_webhook_of_the_same_sale(history):
    history.export([order_row(1, "01/05/2024", 10, 10, "a@x.io")])
    history.refresh()
    history.deliver((webhook("Order", 7, 10, 47, "f@x.io"), at(0)))
    assert history.refresh().incremental and history.changed() == {"f@x.io"}
    history.export([order_row(7, "02/28/2024", 10, 47, "f@x.io", time="09:30:00")])
    assert history.refresh().incremental and history.changed() == {"f@x.io"}
    assert history.conn.execute(
        "SELECT transaction_day, sources FROM transactions WHERE order_id = '7'"
    ).fetchall() == [(dt.date(2024, 2, 28), "orders_export,webhook")]


@pytest.mark.parametrize("webhook_first", [True, False])
def test_a_webhook_whose_email_differs_from_the_export_for_the_same_order(history, webhook_first):
    history.export([order_row(1, "01/05/2024", 10, 10, "a@x.io")])
    history.refresh()
    steps = [
        lambda: history.deliver((webhook("Order", 8, 10, 47, "g@x.io"), at(0))),
        lambda: history.export([order_row(8, "02/28/2024", 10, 47, "h@x.io")]),
    ]
    for step in steps if webhook_first else steps[::-1]:
        step()
        assert history.refresh().incremental
    # The export's email names the customer, whichever came first; both are rebuilt.
    assert history.changed() == {"g@x.io", "h@x.io"}
    assert history.conn.execute(
        "SELECT customer_key FROM transactions WHERE order_id = '8'"
    ).fetchall() == [("h@x.io",)]
    assert history.conn.execute(
        "SELECT count(*) FROM customers WHERE customer_key = 'g@x.io'"
    ).fetchall() == [(0,)]


def test_a_charge_webhook_for_an_exported_subscription(history):
    load_csv(history.conn, history.settings, ORDERS_SAMPLE)
    load_csv(history.conn, history.settings, RECURRING_SAMPLE)
    history.refresh()
    customers = history.conn.execute("SELECT count(*) FROM customers").fetchall()[0][0]
    # Charge 1 of 7001 (started 03/14, monthly) falls on 04/14: this one replaces it.
    history.deliver((charge(7001, "ada.lovelace@example.com", "ch_1", "29.00"), at(45)))
    built = history.refresh()
    assert built.incremental, built
    assert "ada.lovelace@example.com" in history.changed()
    assert built.customers_touched < customers
    assert history.conn.execute(
        "SELECT flag FROM transactions WHERE transaction_id = 'charge|7001|ch_1'"
    ).fetchall() == [("replaces_rebuilt_charge",)]
    # A charge under another email than the subscription's: both customers are rebuilt.
    history.deliver((charge(7002, "grace@other.example", "ch_9", "29.00"), at(50)))
    assert history.refresh().incremental
    assert {"grace@navy.example", "grace@other.example"} <= history.changed()


def test_a_changed_customer_key_rule_rebuilds_from_scratch(history):
    history.export([order_row(1, "01/05/2024", 10, 10, "a.b+x@gmail.com")])
    history.refresh()
    built = build_model(history.conn, "gmail-folded")
    assert not built.incremental and "customer-key rule" in built.full_reason
    assert history.conn.execute("SELECT customer_key FROM customers").fetchall() == [
        ("ab@gmail.com",)
    ]


def test_a_full_rebuild_when_asked_or_without_a_record(history):
    history.export([order_row(1, "01/05/2024", 10, 10, "a@x.io")])
    history.refresh()
    assert build_model(history.conn, full=True).full_reason == "asked for"
    assert history.changed() == {None}
    history.conn.execute("DROP TABLE model_inputs")  # a home from before the record
    history.deliver((webhook("Order", 5, 10, 10, "e@x.io"), at(0)))
    built = history.refresh()
    assert not built.incremental and "no record" in built.full_reason
    assert history.refresh().incremental


def test_a_re_parsed_partition_rebuilds_from_scratch(history):
    path = write_orders(history.tmp_path / "o.csv", [order_row(1, "01/05/2024", 10, 10, "a@x.io")])
    load_csv(history.conn, history.settings, path)
    history.refresh()
    # The same file parsed again under another date order: same file, other rows.
    load_csv(history.conn, history.settings.model_copy(update={"date_order": "DMY"}), path)
    built = history.refresh()
    assert not built.incremental and "re-parsed" in built.full_reason
    assert history.conn.execute("SELECT first_purchase_day FROM customers").fetchall() == [
        (dt.date(2024, 5, 1),)
    ]


def test_a_removed_delivery_rebuilds_from_scratch(history):
    history.export([order_row(1, "01/05/2024", 10, 10, "a@x.io")])
    history.deliver((webhook("Order", 5, 10, 10, "e@x.io"), at(0)))
    history.refresh()
    history.conn.execute("DELETE FROM raw_samcart_webhook_events")
    built = history.refresh()
    assert not built.incremental and "removed" in built.full_reason
    assert history.conn.execute("SELECT count(*) FROM customers").fetchall() == [(1,)]


def test_a_partition_left_out_then_admitted_again(history):
    history.export([order_row(1, "01/05/2024", 10, 10, "a@x.io")])
    history.export([order_row(2, "01/06/2024", 10, 10, "b@x.io")])
    history.refresh()
    (file_hash,) = history.conn.execute(
        "SELECT file_hash FROM raw_samcart_orders WHERE order_id = '2'"
    ).fetchall()[0]
    key = file_partition_key("default", file_hash, "orders-2.csv", "2024-01-06")
    rows = ("default", file_hash)
    record_verdict(history.conn, "raw_samcart_orders", key, "a contract failure", rows)
    left_out = history.refresh()
    assert not left_out.incremental and "left out" in left_out.full_reason
    assert history.conn.execute("SELECT customer_key FROM customers").fetchall() == [("a@x.io",)]
    # Admitted again (its re-parse passed): its rows are added like a new file's.
    record_verdict(history.conn, "raw_samcart_orders", key, None, rows)
    admitted = history.refresh()
    assert admitted.incremental and admitted.new_partitions == 1
    assert history.changed() == {"b@x.io"}
