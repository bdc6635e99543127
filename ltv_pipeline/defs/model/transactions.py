"""`transactions`: one row per real-world money event, however many sources reported it.

Identities (docs/metrics.md): an order line is (account, order id, product id, n-th occurrence of
the product in the order); a subscription or plan charge is (account, subscription id, charge
id), or (account, subscription id, charge number) when rebuilt from an export; a refund is
(account, order id, product id, refund transaction id), or the export's status when that is all
there is. Every row says which sources reported it (`sources`, comma-separated, and
`source_rows`, how many raw rows were merged into it).

Rules applied here, in this order:
- an order line's date, time and price come from the export when one has it (a webhook's
  receive time only fills in); its state is the furthest any source reached (forward only);
- webhook refunds carry their own day and amount; an export `Refunded` line with no webhook
  refund (or less than the line's price) is refunded in full (the remainder), dated at the
  order; the webhook refunds of an (order, product) are shared out over its occurrences in
  order, each up to its price; `Partially Refunded` with no webhook refund is a 0 refund, flagged;
- subscription and plan charges the exports only count are rebuilt (start + k x frequency),
  and a webhook charge replaces the rebuilt charge nearest its day within half a period;
- a webhook charge is one event per (subscription id, transaction id). Its amount is the sum of
  the lines of the delivery that carries it (a multi-product charge is split into one line per
  product, each with its own product.price; a one-line delivery without a price carries
  order.total, which the parser puts in the line's amount). Several deliveries of the same charge
  (retries) are one event: the earliest delivery's amount counts, never their sum.

A webhook event without its identity (an Order or Refund without an order id, a charge without a
subscription id) cannot be placed, so it is left out here; the webhook parser rejects such events,
and the reconciliation check (reconciliation.py) counts every accepted webhook money event, so
one that ever gets this far fails the check loudly. No transaction_id is NULL.
"""

import duckdb

from ltv_pipeline.defs.model.large_tables import for_large_rebuilds
from ltv_pipeline.metrics.customer_key import use_customer_key_rule
from ltv_pipeline.metrics.definitions import (
    DECLINED_STATUSES,
    order_state_sql,
    schedule_day_sql,
)

SOURCE_EXPORT = "orders_export"
SOURCE_WEBHOOK = "webhook"
SOURCE_SUBSCRIPTION_EXPORT = "subscription_export"


def order_lines_sql() -> str:
    """Every order line any source reported, merged by identity. Customer emails arrive
    trimmed and case-folded from the raw assets (lib/sql_parsing.email_sql), the one place that
    rule lives. The n-th occurrence needs a window only for the rare (order, product) pairs that
    repeat within a file; every other line is occurrence 1."""
    export_columns = (
        "account, order_id, product_id, product_name, price, ordered_at AS moment, "
        f"order_date AS day, {order_state_sql('order_status')} AS state, "
        "customer_key_of(customer_email) AS customer_key, subscription_id, line_number AS position"
    )
    identity = "account, order_id, product_id, occurrence"
    merged = (
        "min(product_name) AS product_name, min(price) AS price, min(moment) AS moment, "
        "min(day) AS day, max(state) AS state, min(customer_key) AS customer_key, "
        "min(subscription_id) AS subscription_id, min(position) AS position, "
        "count(*) AS source_rows"
    )
    return f"""
    WITH repeated AS (
        SELECT account, file_hash, order_id, product_id FROM raw_samcart_orders
        GROUP BY ALL HAVING count(*) > 1
    ), export_lines AS (
        SELECT {export_columns}, 1 AS occurrence
        FROM raw_samcart_orders r ANTI JOIN repeated USING (account, file_hash, order_id,
                                                             product_id)
        UNION ALL
        SELECT {export_columns},
            row_number() OVER (PARTITION BY account, file_hash, order_id, product_id
                               ORDER BY line_number) AS occurrence
        FROM raw_samcart_orders r SEMI JOIN repeated USING (account, file_hash, order_id,
                                                             product_id)
    ), export_merged AS (
        SELECT {identity}, {merged} FROM export_lines GROUP BY {identity}
    ), hook_lines AS (
        SELECT account, order_id, product_id, product_name, amount AS price,
            received_at AS moment, received_day AS day, 1 AS state,
            customer_key_of(customer_email) AS customer_key, subscription_id,
            line_index AS position,
            row_number() OVER (PARTITION BY account, delivery_hash, order_id, product_id
                               ORDER BY line_index) AS occurrence
        FROM raw_samcart_webhook_events
        WHERE event_type = 'Order' AND order_id IS NOT NULL
    ), hook_merged AS (
        SELECT {identity}, {merged} FROM hook_lines GROUP BY {identity}
    )
    SELECT {identity},
        coalesce(e.product_name, h.product_name) AS product_name,
        coalesce(e.price, h.price) AS price,
        coalesce(e.moment, h.moment) AS moment,
        coalesce(e.day, h.day) AS day,
        greatest(e.state, h.state) AS state,
        coalesce(e.customer_key, h.customer_key) AS customer_key,
        coalesce(e.subscription_id, h.subscription_id) AS subscription_id,
        coalesce(e.position, h.position) AS position,
        CASE WHEN e.account IS NOT NULL AND h.account IS NOT NULL
             THEN '{SOURCE_EXPORT},{SOURCE_WEBHOOK}'
             WHEN e.account IS NOT NULL THEN '{SOURCE_EXPORT}'
             ELSE '{SOURCE_WEBHOOK}' END AS sources,
        coalesce(e.source_rows, 0) + coalesce(h.source_rows, 0) AS source_rows
    FROM export_merged e FULL OUTER JOIN hook_merged h USING ({identity})
    """


def transactions_sql() -> str:
    return f"""
    WITH lines AS NOT MATERIALIZED (
        SELECT * FROM merged_order_lines WHERE state >= 1
    ), line_subscription AS (
        -- The checkout that started a subscription: named by the order, or the same customer,
        -- product and day as the subscription's start.
        SELECT l.account, l.order_id, l.product_id, l.occurrence, s.subscription_id
        FROM lines l JOIN subscriptions s
          ON l.account = s.account AND l.customer_key = s.customer_key
         AND l.product_id = s.product_id AND l.day = s.created_date
        WHERE l.subscription_id IS NULL
        QUALIFY row_number() OVER (PARTITION BY l.account, l.order_id, l.product_id, l.occurrence
                                   ORDER BY s.subscription_id) = 1
    ), hook_refunds AS (
        SELECT account, order_id, product_id,
            coalesce(refund_transaction_id, 'delivery:' || delivery_hash) AS refund_id,
            min(received_day) AS day, min(received_at) AS moment, min(amount) AS amount,
            min(customer_key_of(customer_email)) AS customer_key, min(product_name) AS product_name,
            count(*) AS source_rows
        FROM raw_samcart_webhook_events
        WHERE event_type IN ('Refund', 'PartialRefund') AND order_id IS NOT NULL
        GROUP BY account, order_id, product_id, refund_id
    ), hook_refunded AS (
        SELECT account, order_id, product_id, sum(amount) AS refunded
        FROM hook_refunds GROUP BY ALL
    ), refunded_products AS (
        SELECT DISTINCT account, order_id, product_id FROM lines WHERE state >= 2
    ), export_refunds AS (
        -- The webhook refunds of an (order, product) are shared out over its occurrences in
        -- order, each taking at most its price, so a product twice in an order is not
        -- counted as refunded twice over. Only (order, product)s with a refunded line need
        -- the window, which keeps it off the millions of plain charges.
        SELECT * FROM (
            SELECT l.*,
                greatest(least(coalesce(w.refunded, 0) - coalesce(sum(l.price) OVER (
                    PARTITION BY l.account, l.order_id, l.product_id ORDER BY l.occurrence
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), l.price), 0)
                    AS hook_refunded,
                w.refunded IS NOT NULL AS by_hook
            FROM (SELECT * FROM lines x SEMI JOIN refunded_products k
                  ON x.account = k.account AND x.order_id = k.order_id
                 AND x.product_id IS NOT DISTINCT FROM k.product_id) l
            LEFT JOIN hook_refunded w
              ON l.account = w.account AND l.order_id = w.order_id
             AND l.product_id = w.product_id
        ) WHERE state >= 2
    ), slots AS (
        SELECT account, subscription_id, plan_kind, customer_key, product_id, product_name,
            recurring_price AS amount, period_days, frequency_assumed, charge_number,
            {schedule_day_sql("created_date", "frequency", "charge_number")} AS day
        FROM (SELECT *, unnest(range(1, payments_made)) AS charge_number
              FROM subscriptions WHERE from_export AND payments_made > 1)
    ), charge_deliveries AS (
        -- One delivery's lines of one charge, their amounts summed (module docstring).
        SELECT account, subscription_id, delivery_hash,
            coalesce(transaction_id, 'delivery:' || delivery_hash) AS charge_id,
            min(received_day) AS day, min(received_at) AS moment, sum(amount) AS amount,
            min(customer_key_of(customer_email)) AS customer_key, min(product_id) AS product_id,
            min(product_name) AS product_name, count(*) AS source_rows
        FROM raw_samcart_webhook_events
        WHERE event_type = 'RecurringPaymentSucceeded' AND subscription_id IS NOT NULL
        GROUP BY account, subscription_id, charge_id, delivery_hash
    ), hook_charges AS (
        SELECT account, subscription_id, charge_id, min(day) AS day, min(moment) AS moment,
            arg_min(amount, (moment, delivery_hash)) AS amount,
            min(customer_key) AS customer_key, min(product_id) AS product_id,
            min(product_name) AS product_name, sum(source_rows) AS source_rows
        FROM charge_deliveries
        GROUP BY account, subscription_id, charge_id
    ), nearest_slot AS (
        SELECT h.account, h.subscription_id, h.charge_id, s.charge_number,
            abs(date_diff('day', s.day, h.day)) AS distance
        FROM hook_charges h JOIN slots s
          ON h.account = s.account AND h.subscription_id = s.subscription_id
         AND abs(date_diff('day', s.day, h.day)) * 2 <= s.period_days
        QUALIFY row_number() OVER (PARTITION BY h.account, h.subscription_id, h.charge_id
                                   ORDER BY distance, s.charge_number) = 1
    ), replaced AS (
        SELECT * FROM nearest_slot
        QUALIFY row_number() OVER (PARTITION BY account, subscription_id, charge_number
                                   ORDER BY distance, charge_id) = 1
    ), plan_kinds AS (
        SELECT account, subscription_id, plan_kind, customer_key FROM subscriptions
    )
    SELECT l.account, 'line|' || l.order_id || '|' || coalesce(l.product_id, '') || '|'
            || l.occurrence AS transaction_id,
        'order_line' AS kind, l.customer_key, l.order_id, l.product_id, l.product_name,
        l.occurrence AS line_occurrence, l.position AS line_position,
        coalesce(l.subscription_id, ls.subscription_id) AS subscription_id,
        CAST(NULL AS INTEGER) AS charge_number, l.day AS transaction_day,
        l.moment AS transaction_at, l.price AS amount, false AS is_rebuilt,
        CAST(NULL AS VARCHAR) AS refund_basis, CAST(NULL AS VARCHAR) AS flag,
        l.sources, l.source_rows
    FROM lines l LEFT JOIN line_subscription ls
      ON l.account = ls.account AND l.order_id = ls.order_id AND l.product_id = ls.product_id
     AND l.occurrence = ls.occurrence
    UNION ALL
    SELECT r.account, 'refund|' || r.order_id || '|' || coalesce(r.product_id, '') || '|'
            || r.refund_id,
        'refund', coalesce(l.customer_key, r.customer_key), r.order_id, r.product_id,
        coalesce(l.product_name, r.product_name), NULL, NULL, l.subscription_id, NULL,
        r.day, r.moment, -r.amount, false, 'webhook', NULL, '{SOURCE_WEBHOOK}', r.source_rows
    FROM hook_refunds r LEFT JOIN lines l
      ON r.account = l.account AND r.order_id = l.order_id AND r.product_id = l.product_id
     AND l.occurrence = 1
    UNION ALL
    SELECT account,
        'export-refund|' || order_id || '|' || coalesce(product_id, '') || '|' || occurrence,
        'refund', customer_key, order_id, product_id, product_name, occurrence, position,
        subscription_id, NULL, day, moment,
        CASE WHEN state = 3 THEN -(price - hook_refunded) ELSE 0 END,
        false,
        CASE WHEN state = 3 AND hook_refunded > 0 THEN 'export_status_remainder'
             ELSE 'export_status' END,
        CASE WHEN state = 2 THEN 'partial_refund_amount_unknown' END,
        '{SOURCE_EXPORT}', source_rows
    FROM export_refunds
    WHERE (state = 3 AND price > hook_refunded) OR (state = 2 AND NOT by_hook)
    UNION ALL
    SELECT s.account, 'rebuilt|' || s.subscription_id || '|' || s.charge_number,
        CASE s.plan_kind WHEN 'payment_plan' THEN 'plan_installment'
                         ELSE 'subscription_rebill' END,
        s.customer_key, NULL, s.product_id, s.product_name, NULL, NULL, s.subscription_id,
        s.charge_number, s.day, CAST(s.day AS TIMESTAMP), s.amount, true, NULL,
        CASE WHEN s.frequency_assumed THEN 'frequency_assumed_monthly' END,
        '{SOURCE_SUBSCRIPTION_EXPORT}', 1
    FROM slots s ANTI JOIN replaced r
      ON s.account = r.account AND s.subscription_id = r.subscription_id
     AND s.charge_number = r.charge_number
    UNION ALL
    SELECT h.account, 'charge|' || h.subscription_id || '|' || h.charge_id,
        CASE p.plan_kind WHEN 'payment_plan' THEN 'plan_installment'
                         ELSE 'subscription_rebill' END,
        coalesce(p.customer_key, h.customer_key), NULL, h.product_id, h.product_name, NULL,
        NULL, h.subscription_id, r.charge_number, h.day, h.moment, h.amount, false, NULL,
        CASE WHEN r.charge_number IS NOT NULL THEN 'replaces_rebuilt_charge' END,
        '{SOURCE_WEBHOOK}', h.source_rows
    FROM hook_charges h
    LEFT JOIN replaced r ON h.account = r.account AND h.subscription_id = r.subscription_id
     AND h.charge_id = r.charge_id
    LEFT JOIN plan_kinds p ON h.account = p.account AND h.subscription_id = p.subscription_id
    """


def build_transactions(conn: duckdb.DuckDBPyConnection, rule: str) -> int:
    """Needs `subscriptions`; the merged order lines live only for this build."""
    for_large_rebuilds(conn)
    use_customer_key_rule(conn, rule)
    conn.execute(f"CREATE OR REPLACE TEMP TABLE merged_order_lines AS {order_lines_sql()}")
    try:
        conn.execute(f"CREATE OR REPLACE TABLE transactions AS {transactions_sql()}")
    finally:
        conn.execute("DROP TABLE IF EXISTS merged_order_lines")
    return conn.execute("SELECT count(*) FROM transactions").fetchall()[0][0]


def declined_charges_sql() -> str:
    """Declined or failed charges: not revenue, kept apart for dunning and churn. A declined
    export line that another source shows as charged is a charge, not a decline (forward-only
    state), so it is left out here."""
    return f"""
    SELECT account, 'line|' || order_id || '|' || product_id AS charge_key,
        'order_line' AS kind, min(customer_key_of(customer_email)) AS customer_key, order_id,
        product_id, min(product_name) AS product_name,
        CAST(NULL AS VARCHAR) AS subscription_id, min(order_date) AS declined_day,
        min(price) AS amount, '{SOURCE_EXPORT}' AS sources
    FROM raw_samcart_orders d
    WHERE order_status IN ({", ".join(f"'{s}'" for s in DECLINED_STATUSES)})
      AND NOT EXISTS (
        SELECT 1 FROM transactions t WHERE t.kind = 'order_line' AND t.account = d.account
           AND t.order_id = d.order_id AND t.product_id = d.product_id)
    GROUP BY account, order_id, product_id
    UNION ALL
    SELECT account, 'failed|' || subscription_id || '|' || delivery_hash || '|' || line_index,
        'subscription_charge', customer_key_of(customer_email), order_id, product_id, product_name,
        subscription_id, received_day, amount, '{SOURCE_WEBHOOK}'
    FROM raw_samcart_webhook_events WHERE event_type = 'RecurringPaymentFailed'
    """


def build_declined_charges(conn: duckdb.DuckDBPyConnection, rule: str) -> int:
    for_large_rebuilds(conn)
    use_customer_key_rule(conn, rule)
    conn.execute(f"CREATE OR REPLACE TABLE declined_charges AS {declined_charges_sql()}")
    return conn.execute("SELECT count(*) FROM declined_charges").fetchall()[0][0]
