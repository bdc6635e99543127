"""The transactions asset's check: the unified transactions equal the accepted source rows
after de-duplication, counted straight from the raw tables without the model's joins."""

import duckdb

from ltv_pipeline.defs.model.subscriptions import chosen_export_rows_sql
from ltv_pipeline.metrics.customer_key import use_customer_key_rule
from ltv_pipeline.metrics.definitions import order_state_sql

# Distinct order-line identities with a successful status, from either source, and their price
# (the export's when it has one): each must be exactly one order_line transaction.
SOURCE_ORDER_LINES = f"""
WITH rows AS (
    SELECT account, order_id, product_id, price, true AS from_export,
        {order_state_sql("order_status")} AS state,
        row_number() OVER (PARTITION BY account, file_hash, order_id, product_id
                           ORDER BY line_number) AS n
    FROM raw_samcart_orders
    UNION ALL
    SELECT account, order_id, product_id, amount, false, 1,
        row_number() OVER (PARTITION BY account, delivery_hash, order_id, product_id
                           ORDER BY line_index)
    FROM raw_samcart_webhook_events WHERE event_type = 'Order'
), lines AS (
    SELECT coalesce(min(price) FILTER (WHERE from_export), min(price)) AS price
    FROM rows GROUP BY account, order_id, product_id, n HAVING max(state) >= 1
)
SELECT count(*), coalesce(sum(price), 0) FROM lines"""
# Every rebuilt slot (charge 2..n of the export row the model keeps, chosen by the model's own
# rule) is in the model either as a rebuilt charge or replaced by exactly one webhook charge.
SOURCE_SLOTS = f"""
SELECT coalesce(sum(greatest(coalesce(charges_made, 0) - 1, 0)), 0)
FROM ({chosen_export_rows_sql()})"""
# Every accepted webhook refund and successful charge, by identity and with no filter: one
# without its identity (no order id, no subscription id) must not vanish unnoticed.
SOURCE_WEBHOOK_EVENTS = """
SELECT
    (SELECT count(*) FROM (
        SELECT DISTINCT account, order_id, product_id,
            coalesce(refund_transaction_id, 'delivery:' || delivery_hash)
        FROM raw_samcart_webhook_events WHERE event_type IN ('Refund', 'PartialRefund'))),
    (SELECT count(*) FROM (
        SELECT DISTINCT account, subscription_id,
            coalesce(transaction_id, 'delivery:' || delivery_hash)
        FROM raw_samcart_webhook_events WHERE event_type = 'RecurringPaymentSucceeded'))"""
MODEL_SIDE = """
SELECT count(*) FILTER (WHERE kind = 'order_line'),
    coalesce(sum(amount) FILTER (WHERE kind = 'order_line'), 0),
    count(*) FILTER (WHERE is_rebuilt OR flag = 'replaces_rebuilt_charge'),
    count(*) - count(DISTINCT (account, transaction_id)),
    count(*) FILTER (WHERE account IS NULL OR transaction_id IS NULL),
    count(*) FILTER (WHERE kind = 'refund' AND refund_basis = 'webhook'),
    count(*) FILTER (WHERE kind IN ('subscription_rebill', 'plan_installment')
                     AND NOT is_rebuilt)
FROM transactions"""


def reconcile_transactions(conn: duckdb.DuckDBPyConnection, rule: str) -> dict[str, object]:
    use_customer_key_rule(conn, rule)
    lines, line_amount = conn.execute(SOURCE_ORDER_LINES).fetchall()[0]
    (slots,) = conn.execute(SOURCE_SLOTS).fetchall()[0]
    refunds, charges = conn.execute(SOURCE_WEBHOOK_EVENTS).fetchall()[0]
    model = conn.execute(MODEL_SIDE).fetchall()[0]
    model_lines, model_amount, model_slots, duplicates, null_keys, model_refunds, model_charges = (
        model
    )
    return {
        "source_order_lines": lines,
        "model_order_lines": model_lines,
        "source_order_line_amount": float(line_amount),
        "model_order_line_amount": float(model_amount),
        "source_rebuilt_slots": int(slots),
        "model_rebuilt_or_replaced": model_slots,
        "duplicate_keys": duplicates,
        "null_keys": null_keys,
        "source_webhook_refunds": refunds,
        "model_webhook_refunds": model_refunds,
        "source_webhook_charges": charges,
        "model_webhook_charges": model_charges,
        "passed": lines == model_lines
        and line_amount == model_amount
        and slots == model_slots
        and duplicates == 0
        and null_keys == 0
        and refunds == model_refunds
        and charges == model_charges,
    }


# docs/metrics.md: where an export gives a total collected, the first order plus the rebuilt (or
# replacing webhook) charges must add up to it; a mismatch is reported, not hidden.
COLLECTED_MISMATCHES = """
SELECT s.account, s.subscription_id, s.total_collected,
    coalesce(sum(t.amount) FILTER (WHERE t.amount > 0 AND (t.kind = 'order_line' OR t.is_rebuilt
        OR t.flag = 'replaces_rebuilt_charge')), 0) AS first_order_plus_rebuilt
FROM subscriptions s LEFT JOIN transactions t
  ON t.account = s.account AND t.subscription_id = s.subscription_id
WHERE s.from_export AND s.total_collected IS NOT NULL
GROUP BY ALL HAVING first_order_plus_rebuilt <> s.total_collected
ORDER BY ALL"""


def collected_mismatches(conn: duckdb.DuckDBPyConnection, rule: str) -> list[tuple]:
    use_customer_key_rule(conn, rule)
    return conn.execute(COLLECTED_MISMATCHES).fetchall()
