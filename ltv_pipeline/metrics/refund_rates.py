"""Refund rates, both ways (ltv-metrics.md: Refund rate): refunded amount / gross charged, and
refunded orders / orders; partial refunds make them differ. By cohort and by product."""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.cohort_members import members_sql
from ltv_pipeline.metrics.definitions import MetricOptions


def refund_rates_sql(options: MetricOptions, as_of: dt.date) -> str:
    """Rows (account, dimension, group_key, group_name, gross_charged, refunded_amount, orders,
    refunded_orders): dimension 'cohort' groups by the customer's cohort, 'product' by the
    product of each line."""
    return f"""
    WITH members AS ({members_sql(options, as_of)}),
    facts AS (
        SELECT t.account, m.cohort, t.product_id, t.product_name, t.order_id, t.amount, t.kind
        FROM transactions t JOIN members m
          ON t.account = m.account AND t.customer_key = m.customer_key
        WHERE t.transaction_day <= {day_literal(as_of)}
    ), by_group AS (
        SELECT account, 'cohort' AS dimension, cohort AS group_key, cohort AS group_name, *
            EXCLUDE (account, cohort, product_id, product_name)
        FROM facts
        UNION ALL
        SELECT account, 'product', coalesce(product_id, '(none)'), product_name, *
            EXCLUDE (account, cohort, product_id, product_name)
        FROM facts
    )
    SELECT account, dimension, group_key, min(group_name) AS group_name,
        coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS gross_charged,
        coalesce(-sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refunded_amount,
        count(DISTINCT order_id) FILTER (WHERE kind = 'order_line') AS orders,
        count(DISTINCT order_id) FILTER (WHERE kind = 'refund') AS refunded_orders,
        {day_literal(as_of)} AS as_of_day
    FROM by_group GROUP BY account, dimension, group_key"""


def rates_sql() -> str:
    return (
        "round(refunded_amount / nullif(gross_charged, 0), 4) AS refund_rate_amount, "
        "round(refunded_orders / nullif(orders, 0), 4) AS refund_rate_orders"
    )
