"""Per customer: what each member of a cohort has been worth, in total and within each horizon.

This is the base every cohort metric aggregates (LTV curves, repeat purchases, refunds by
cohort): Day-N sums are each customer's transactions on days 0..N after their first purchase
day (refunds included for net, charges only for gross), up to the as-of day.
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.cohort_members import members_sql
from ltv_pipeline.metrics.definitions import HORIZONS, MetricOptions


def _window(days: int | None) -> str:
    return "true" if days is None else f"t.transaction_day <= m.start_day + {days}"


def _dollars(cents: str) -> str:
    """Sums run over whole cents (BIGINT), which DuckDB adds far faster than DECIMAL(38,2);
    the result is the same exact amount, back in dollars."""
    return f"CAST(coalesce({cents}, 0) * 0.01 AS DECIMAL(38, 2))"


def customer_ltv_sql(options: MetricOptions, as_of: dt.date) -> str:
    horizons = ", ".join(
        f"{_dollars(f'sum(t.cents) FILTER (WHERE {_window(d)})')} AS net_{h}, "
        f"{_dollars(f'sum(t.cents) FILTER (WHERE {_window(d)} AND t.cents > 0)')} AS gross_{h}"
        for h, d in HORIZONS
    )
    as_of_day = day_literal(as_of)
    return f"""
    WITH members AS ({members_sql(options, as_of)}),
    events AS (
        SELECT account, customer_key, transaction_day, kind,
            CAST(amount * 100 AS BIGINT) AS cents
        FROM transactions WHERE transaction_day <= {as_of_day}
    ), order_counts AS (
        -- Distinct orders counted apart: one DISTINCT pass, rather than a list per customer.
        SELECT account, customer_key, count(*) FILTER (WHERE kind = 'order_line') AS orders,
            count(*) FILTER (WHERE kind = 'refund') AS refunded_orders
        FROM (SELECT DISTINCT account, customer_key, kind, order_id FROM transactions
              WHERE kind IN ('order_line', 'refund') AND order_id IS NOT NULL
                AND transaction_day <= {as_of_day})
        GROUP BY account, customer_key
    ), per_customer AS (
        SELECT m.account, m.customer_key, any_value(m.cohort) AS cohort,
            any_value(m.start_day) AS first_purchase_day,
            max(t.transaction_day) FILTER (WHERE t.cents > 0) AS last_purchase_day,
            any_value(m.product_id) AS front_end_product_id,
            any_value(m.product_name) AS front_end_product_name,
            count(*) FILTER (WHERE t.kind IN ('subscription_rebill', 'plan_installment'))
                AS recurring_charges,
            -{_dollars("sum(t.cents) FILTER (WHERE t.kind = 'refund')")} AS refunds,
            min(t.transaction_day) FILTER (
                WHERE t.kind = 'order_line' AND t.transaction_day > m.start_day)
                AS first_repeat_day,
            {horizons}
        FROM members m LEFT JOIN events t
          ON t.account = m.account AND t.customer_key = m.customer_key
        GROUP BY m.account, m.customer_key
    )
    SELECT p.account, p.customer_key, p.cohort, p.first_purchase_day, p.last_purchase_day,
        p.front_end_product_id, p.front_end_product_name,
        coalesce(o.orders, 0) AS orders, p.recurring_charges,
        coalesce(o.refunded_orders, 0) AS refunded_orders, p.refunds, p.first_repeat_day,
        p.* EXCLUDE (account, customer_key, cohort, first_purchase_day, last_purchase_day,
                     front_end_product_id, front_end_product_name, recurring_charges, refunds,
                     first_repeat_day),
        {as_of_day} AS as_of_day
    FROM per_customer p LEFT JOIN order_counts o
      ON p.account = o.account AND p.customer_key = o.customer_key"""
