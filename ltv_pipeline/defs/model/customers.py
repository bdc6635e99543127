"""`customers`: one row per (account, customer key); the key is the email, trimmed and
case-folded, and platform customer ids are kept as aliases.

The first purchase is the first successful order (any amount, $0 included; earliest order time,
then lowest order id); the front-end product is that order's highest-priced line (then its first
line). A customer with money events but no order (say, only a webhook rebill) starts at their
first charge instead, marked in `cohort_basis`, so every dollar still belongs to a cohort.
"""

import duckdb

from ltv_pipeline.defs.model.customer_key import use_customer_key_rule
from ltv_pipeline.defs.model.large_tables import for_large_rebuilds
from ltv_pipeline.metrics.definitions import order_rank_sql

ORDER_RANK = f"({order_rank_sql('o.')})"  # as one value, for arg_min
# An order at the customer's first moment (of any order, of any paid order); NULL-safe.
AT_FIRST = "o.moment IS NOT DISTINCT FROM f.first_moment"
AT_FIRST_PAID = "(o.moment IS NOT DISTINCT FROM f.first_paid_moment AND o.order_amount > 0)"


def customers_sql(key_rule: str) -> str:
    return f"""
    WITH orders AS (
        SELECT account, customer_key, order_id, min(transaction_at) AS moment,
            min(transaction_day) AS day, sum(amount) AS order_amount
        FROM transactions WHERE kind = 'order_line'
        GROUP BY account, customer_key, order_id
    ), first_moments AS (
        SELECT account, customer_key, min(moment) AS first_moment,
            min(moment) FILTER (WHERE order_amount > 0) AS first_paid_moment
        FROM orders GROUP BY account, customer_key
    ), firsts AS (
        -- Ranking every order by the whole rank is slow on millions of orders; only the orders
        -- at a customer's earliest moment can win, so the full rank breaks their ties alone.
        SELECT o.account, o.customer_key,
            arg_min(o.order_id, {ORDER_RANK}) FILTER (WHERE {AT_FIRST}) AS first_order_id,
            min(f.first_moment) AS first_moment,
            arg_min(o.day, {ORDER_RANK}) FILTER (WHERE {AT_FIRST}) AS first_day,
            arg_min(o.order_id, {ORDER_RANK}) FILTER (WHERE {AT_FIRST_PAID}) AS first_paid_order_id,
            arg_min(o.day, {ORDER_RANK}) FILTER (WHERE {AT_FIRST_PAID}) AS first_paid_day
        FROM orders o JOIN first_moments f
          ON o.account = f.account AND o.customer_key = f.customer_key
         AND ({AT_FIRST} OR {AT_FIRST_PAID})
        GROUP BY o.account, o.customer_key
    ), front_end AS (
        SELECT t.account, t.customer_key,
            arg_min(t.product_id, (-t.amount, t.line_position, t.product_id)) AS product_id,
            arg_min(t.product_name, (-t.amount, t.line_position, t.product_id)) AS product_name
        FROM transactions t JOIN firsts f
          ON t.account = f.account AND t.customer_key = f.customer_key
         AND t.order_id = f.first_order_id AND t.kind = 'order_line'
        GROUP BY t.account, t.customer_key
    ), everyone AS (
        SELECT account, customer_key,
            min(transaction_at) FILTER (WHERE amount > 0) AS first_charge_at,
            min(transaction_day) FILTER (WHERE amount > 0) AS first_charge_day,
            min(transaction_at) AS first_event_at, min(transaction_day) AS first_event_day,
            max(transaction_day) FILTER (WHERE amount > 0) AS last_charge_day
        FROM transactions GROUP BY account, customer_key
    ), aliases AS (
        SELECT account, customer_key, list(DISTINCT customer_id ORDER BY customer_id)
            AS platform_ids
        FROM (
            SELECT account, customer_key_of(customer_email) AS customer_key, customer_id
            FROM raw_samcart_orders WHERE customer_id IS NOT NULL
            UNION ALL
            SELECT account, customer_key, customer_id FROM subscriptions
            WHERE customer_id IS NOT NULL
        ) GROUP BY account, customer_key
    )
    SELECT e.account, e.customer_key,
        coalesce(a.platform_ids, []) AS platform_ids,
        CASE WHEN f.first_order_id IS NOT NULL THEN 'first_order' ELSE 'first_charge' END
            AS cohort_basis,
        f.first_order_id,
        coalesce(f.first_moment, e.first_charge_at, e.first_event_at) AS first_purchase_at,
        coalesce(f.first_day, e.first_charge_day, e.first_event_day) AS first_purchase_day,
        fe.product_id AS front_end_product_id,
        fe.product_name AS front_end_product_name,
        f.first_paid_order_id,
        coalesce(f.first_paid_day, CASE WHEN f.first_order_id IS NULL THEN e.first_charge_day END)
            AS first_paid_purchase_day,
        e.last_charge_day AS last_purchase_day,
        '{key_rule}' AS customer_key_rule
    FROM everyone e
    LEFT JOIN firsts f ON e.account = f.account AND e.customer_key = f.customer_key
    LEFT JOIN front_end fe ON e.account = fe.account AND e.customer_key = fe.customer_key
    LEFT JOIN aliases a ON e.account = a.account AND e.customer_key = a.customer_key
    """


def build_customers(conn: duckdb.DuckDBPyConnection) -> int:
    """Needs `transactions` and `subscriptions`."""
    for_large_rebuilds(conn)
    rule = use_customer_key_rule(conn)
    conn.execute(f"CREATE OR REPLACE TABLE customers AS {customers_sql(rule)}")
    return conn.execute("SELECT count(*) FROM customers").fetchall()[0][0]
