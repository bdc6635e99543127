"""The webhook tables: the deliveries copied from sealed landing segments, and the events parsed
from them. The deliveries table is defined by the hand-off contract it shares with the receiver."""

from __future__ import annotations

from ltv_core.webhook_segments import CREATE_WAREHOUSE_TABLE

# One row per distinct body per account, stamped with its earliest receipt, so a retry on
# another day is still the same delivery: the receiver's columns (the hand-off contract in
# ltv_core.webhook_segments) plus the segment it came from.
WEBHOOK_DELIVERIES_TABLE = CREATE_WAREHOUSE_TABLE

WEBHOOK_EVENTS_TABLE = """CREATE TABLE IF NOT EXISTS raw_samcart_webhook_events (
    account VARCHAR NOT NULL,
    delivery_hash VARCHAR NOT NULL,
    line_index INTEGER NOT NULL,
    line_count INTEGER NOT NULL,
    received_at TIMESTAMP NOT NULL,
    received_day DATE NOT NULL,
    event_type VARCHAR NOT NULL,
    raw_type VARCHAR NOT NULL,
    order_id VARCHAR,
    product_id VARCHAR,
    product_name VARCHAR,
    subscription_id VARCHAR,
    transaction_id VARCHAR,
    refund_transaction_id VARCHAR,
    amount DECIMAL(18,2),
    order_total DECIMAL(18,2),
    quantity INTEGER,
    customer_email VARCHAR,
    customer_first_name VARCHAR,
    customer_last_name VARCHAR,
    customer_phone VARCHAR,
    affiliate VARCHAR,
    coupon VARCHAR
)"""

WEBHOOK_TABLES = [WEBHOOK_DELIVERIES_TABLE, WEBHOOK_EVENTS_TABLE]
