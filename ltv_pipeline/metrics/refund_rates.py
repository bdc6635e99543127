"""Refund rates, both ways (docs/metrics.md: Refund rate): refunded amount / gross charged, and
refunded orders / orders; partial refunds make them differ. By cohort and by product."""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.cohort_members import members_sql
from ltv_pipeline.metrics.definitions import MetricOptions
from ltv_pipeline.metrics.ltv_curves import group_columns


def refund_rates_sql(options: MetricOptions, as_of: dt.date, customers: str) -> str:
    """Rows (account, dimension, group_key, group_name, gross_charged, refunded_amount, orders,
    refunded_orders): 'cohort' sums the per-customer rows of `customers`, 'product' groups the
    members' transactions by the product of each line."""
    key, name = group_columns(options, "cohort")
    return f"""
    SELECT account, 'cohort' AS dimension, {key} AS group_key, min({name}) AS group_name,
        sum(gross_all) AS gross_charged, sum(refunds) AS refunded_amount,
        sum(orders) AS orders, sum(refunded_orders) AS refunded_orders,
        {day_literal(as_of)} AS as_of_day
    FROM {customers} GROUP BY account, {key}
    UNION ALL
    SELECT t.account, 'product', coalesce(t.product_id, '(none)'), min(t.product_name),
        coalesce(sum(t.amount) FILTER (WHERE t.amount > 0), 0),
        coalesce(-sum(t.amount) FILTER (WHERE t.kind = 'refund'), 0),
        -- each (order, product) has exactly one first occurrence: a distinct count, cheaply
        count(*) FILTER (WHERE t.kind = 'order_line' AND t.line_occurrence = 1),
        -- NULL for every other line, so the distinct set holds only refunded orders (a FILTER
        -- would still hash every line's order id: twice the time on 10M transactions)
        count(DISTINCT CASE WHEN t.kind = 'refund' THEN t.order_id END),
        {day_literal(as_of)}
    FROM transactions t SEMI JOIN ({members_sql(options, as_of)}) m
      ON t.account = m.account AND t.customer_key = m.customer_key
    WHERE t.transaction_day <= {day_literal(as_of)}
    GROUP BY t.account, coalesce(t.product_id, '(none)')"""


def rates_sql() -> str:
    return (
        "round(refunded_amount / nullif(gross_charged, 0), 4) AS refund_rate_amount, "
        "round(refunded_orders / nullif(orders, 0), 4) AS refund_rate_orders"
    )
