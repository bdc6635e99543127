"""Webhook money events without their identity never vanish silently: the transactions check
counts every accepted one, and no transaction key is NULL."""

import datetime as dt

import pytest

from ltv_pipeline.contracts.keys_unique import keys_unique
from ltv_pipeline.defs.model.build import build_model
from ltv_pipeline.defs.model.reconciliation import reconcile_transactions
from tests.marts.cases import order_row, warehouse, webhook, write_orders
from tests.model.loading import load_csv, load_webhooks, rebuild

WHEN = dt.datetime(2024, 1, 5, 12, tzinfo=dt.UTC)
# Hand-inserted rows the parser would reject: an Order and a Refund with no order id, a
# successful charge with no subscription id.
IDENTITY_LESS = {
    "Order": ("Order", None, "10", None),
    "Refund": ("Refund", None, "10", None),
    "RecurringPaymentSucceeded": ("RecurringPaymentSucceeded", None, "10", None),
}


@pytest.fixture
def conn(ltv_home, tmp_path):
    with warehouse(ltv_home) as conn:
        load_csv(
            conn,
            ltv_home,
            write_orders(tmp_path / "o.csv", [order_row(1, "01/01/2024", 10, 10, "a@x.io")]),
        )
        load_webhooks(
            conn, [(webhook("Refund", 1, 10, 10, "a@x.io", refund_transaction_id="re_1"), WHEN)]
        )
        rebuild(conn)
        yield conn


def test_the_check_passes_on_identified_events(conn):
    assert reconcile_transactions(conn, "email")["passed"]
    assert keys_unique(conn, "transactions", ("account", "transaction_id")).passed


@pytest.mark.parametrize("event", sorted(IDENTITY_LESS))
def test_an_event_without_its_identity_fails_the_check(conn, event):
    event_type, order_id, product_id, subscription_id = IDENTITY_LESS[event]
    conn.execute(
        "INSERT INTO raw_samcart_webhook_events (account, delivery_hash, line_index, line_count, "
        "received_at, received_day, event_type, raw_type, order_id, product_id, subscription_id, "
        "amount, customer_email) VALUES ('default', 'hand', 0, 1, TIMESTAMP '2024-01-06 10:00', "
        "DATE '2024-01-06', ?, ?, ?, ?, ?, 7, 'a@x.io')",
        [event_type, event_type, order_id, product_id, subscription_id],
    )
    build_model(conn)
    figures = reconcile_transactions(conn, "email")
    assert not figures["passed"], figures
    assert conn.execute(
        "SELECT count(*) FROM transactions WHERE transaction_id IS NULL"
    ).fetchall() == [(0,)]


def test_keys_unique_fails_on_a_null_key(conn):
    conn.execute("UPDATE transactions SET transaction_id = NULL WHERE kind = 'refund'")
    check = keys_unique(conn, "transactions", ("account", "transaction_id"))
    assert not check.passed
    assert check.metadata["null_keys"].value == 1
    assert not reconcile_transactions(conn, "email")["passed"]
