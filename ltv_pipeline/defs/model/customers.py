"""`customers`: one row per (account, customer key); the key is the email, trimmed and
case-folded, and platform customer ids are kept as aliases.

The first purchase is the first successful order (any amount, $0 included; earliest order time,
then lowest order id); the front-end product is that order's highest-priced line (then its first
line). A customer with money events but no order (say, only a webhook rebill) starts at their
first charge instead, marked in `cohort_basis`, so every dollar still belongs to a cohort.
"""

import duckdb

from ltv_pipeline.defs.model.large_tables import for_large_rebuilds
from ltv_pipeline.metrics.customer_key import use_customer_key_rule
from ltv_pipeline.metrics.definitions import order_rank_sql

ORDER_RANK = f"({order_rank_sql('o.')})"  # as one value, for arg_min
ORDER_COLUMNS = (
    "account, customer_key, order_id, min(moment) AS moment, min(day) AS day, "
    "sum(amount) AS order_amount"
)


def customers_sql(key_rule: str) -> str:
    return f"""
    WITH lines AS NOT MATERIALIZED (
        -- Read where used: a scan costs less than holding 10M lines in memory.
        SELECT account, customer_key, order_id, transaction_at AS moment,
            transaction_day AS day, amount, product_id, product_name, line_position
        FROM transactions WHERE kind = 'order_line'
    ), everyone AS (
        SELECT account, customer_key,
            min(transaction_at) FILTER (WHERE kind = 'order_line') AS first_order_moment,
            min(transaction_at) FILTER (WHERE amount > 0) AS first_charge_at,
            min(transaction_day) FILTER (WHERE amount > 0) AS first_charge_day,
            min(transaction_at) AS first_event_at, min(transaction_day) AS first_event_day,
            max(transaction_day) FILTER (WHERE amount > 0) AS last_charge_day
        FROM transactions GROUP BY account, customer_key
    ), first_lines AS (
        -- Only an order that starts at the customer's earliest moment can be the first order
        -- (an order's moment is its earliest line's), so only those orders are summed here,
        -- rather than every order of every customer.
        SELECT l.* FROM lines l SEMI JOIN (
            SELECT DISTINCT l.account, l.customer_key, l.order_id
            FROM lines l JOIN everyone e
              ON l.account = e.account AND l.customer_key = e.customer_key
             AND l.moment IS NOT DISTINCT FROM e.first_order_moment
        ) c ON l.account = c.account AND l.customer_key = c.customer_key
           AND l.order_id = c.order_id
    ), first_orders AS (
        SELECT {ORDER_COLUMNS} FROM first_lines GROUP BY account, customer_key, order_id
    ), firsts AS (
        SELECT o.account, o.customer_key,
            arg_min(o.order_id, {ORDER_RANK}) AS first_order_id,
            min(o.moment) AS first_moment,
            arg_min(o.day, {ORDER_RANK}) AS first_day,
            arg_min(o.order_id, {ORDER_RANK}) FILTER (WHERE o.order_amount > 0)
                AS first_paid_order_id,
            arg_min(o.day, {ORDER_RANK}) FILTER (WHERE o.order_amount > 0) AS first_paid_day
        FROM first_orders o GROUP BY o.account, o.customer_key
    ), later_paid AS (
        -- Customers whose first orders were all unpaid ($0, say): their first paid order is
        -- ranked among all their orders (the rare case, so the full grouping stays rare).
        SELECT o.account, o.customer_key,
            arg_min(o.order_id, {ORDER_RANK}) AS first_paid_order_id,
            arg_min(o.day, {ORDER_RANK}) AS first_paid_day
        FROM (
            SELECT {ORDER_COLUMNS}
            FROM lines l SEMI JOIN (SELECT account, customer_key FROM firsts
                                    WHERE first_paid_order_id IS NULL) u
              ON l.account = u.account AND l.customer_key = u.customer_key
            GROUP BY account, customer_key, order_id
        ) o
        WHERE o.order_amount > 0
        GROUP BY o.account, o.customer_key
    ), front_end AS (
        SELECT l.account, l.customer_key,
            arg_min(l.product_id, (-l.amount, l.line_position, l.product_id)) AS product_id,
            arg_min(l.product_name, (-l.amount, l.line_position, l.product_id)) AS product_name
        FROM first_lines l JOIN firsts f
          ON l.account = f.account AND l.customer_key = f.customer_key
         AND l.order_id = f.first_order_id
        GROUP BY l.account, l.customer_key
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
        coalesce(f.first_paid_order_id, lp.first_paid_order_id) AS first_paid_order_id,
        coalesce(f.first_paid_day, lp.first_paid_day,
                 CASE WHEN f.first_order_id IS NULL THEN e.first_charge_day END)
            AS first_paid_purchase_day,
        e.last_charge_day AS last_purchase_day,
        '{key_rule}' AS customer_key_rule
    FROM everyone e
    LEFT JOIN firsts f ON e.account = f.account AND e.customer_key = f.customer_key
    LEFT JOIN later_paid lp ON e.account = lp.account AND e.customer_key = lp.customer_key
    LEFT JOIN front_end fe ON e.account = fe.account AND e.customer_key = fe.customer_key
    LEFT JOIN aliases a ON e.account = a.account AND e.customer_key = a.customer_key
    """


def build_customers(conn: duckdb.DuckDBPyConnection, rule: str) -> int:
    """Needs `transactions` and `subscriptions`."""
    for_large_rebuilds(conn)
    use_customer_key_rule(conn, rule)
    conn.execute(f"CREATE OR REPLACE TABLE customers AS {customers_sql(rule)}")
    return conn.execute("SELECT count(*) FROM customers").fetchall()[0][0]
