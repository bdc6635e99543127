"""Webhook events of types the model does not use are kept as raw event lines, and the model
built from them (real Dagster runs) is the one the known events alone make."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from dagster import instance_for_test

from tests.model.dagster_runs import build_model_and_marts, deliver_webhooks

ORDER = {
    "type": "Order",
    "customer": {"email": "ada@x.io"},
    "order": {"id": 900, "total": "47.00"},
    "product": {"id": 55, "name": "Course", "price": "47.00"},
}
# Unknown types, one of them with everything a money event has (an order id, a price).
UNKNOWN = [
    {"type": "ProspectCreated", "customer": {"email": "prospect@x.io"}},
    {
        "type": "UpsellViewed",
        "customer": {"email": "viewer@x.io"},
        "order": {"id": 901, "total": "99.00"},
        "product": {"id": 56, "name": "Upsell", "price": "99.00"},
    },
    {"event": "affiliate.signup", "affiliate": {"id": 12}},
]


@pytest.fixture
def instance(ltv_home):
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        yield instance


def test_unknown_event_types_are_kept_and_the_model_ignores_them(ltv_home, instance) -> None:
    bodies = [json.dumps(b).encode() for b in [ORDER, *UNKNOWN]]
    deliver_webhooks(ltv_home, instance, bodies, dt.datetime(2024, 5, 2, 12))
    build_model_and_marts(instance)
    conn = duckdb.connect(str(ltv_home.warehouse_path), read_only=True)
    try:
        events = conn.execute(
            "SELECT event_type FROM raw_samcart_webhook_events ORDER BY event_type"
        ).fetchall()
        rejects = conn.execute("SELECT reason FROM rejects").fetchall()
        transactions = conn.execute("SELECT order_id, amount FROM transactions").fetchall()
        customers = conn.execute("SELECT customer_key FROM customers").fetchall()
    finally:
        conn.close()
    assert events == [("Order",), ("ProspectCreated",), ("UpsellViewed",), ("affiliate.signup",)]
    assert rejects == []
    assert [(order, str(amount)) for order, amount in transactions] == [("900", "47.00")]
    assert customers == [("ada@x.io",)]
