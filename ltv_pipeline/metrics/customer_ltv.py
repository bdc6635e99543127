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


def customer_ltv_sql(options: MetricOptions, as_of: dt.date) -> str:
    horizons = ", ".join(
        f"coalesce(sum(t.amount) FILTER (WHERE {_window(d)}), 0) AS net_{h}, "
        f"coalesce(sum(t.amount) FILTER (WHERE {_window(d)} AND t.amount > 0), 0) AS gross_{h}"
        for h, d in HORIZONS
    )
    return f"""
    WITH members AS ({members_sql(options, as_of)})
    SELECT m.account, m.customer_key, any_value(m.cohort) AS cohort,
        any_value(m.start_day) AS first_purchase_day,
        max(t.transaction_day) FILTER (WHERE t.amount > 0) AS last_purchase_day,
        any_value(m.product_id) AS front_end_product_id,
        any_value(m.product_name) AS front_end_product_name,
        coalesce(len(list_distinct(list(t.order_id) FILTER (WHERE t.kind = 'order_line'))), 0)
            AS orders,
        count(*) FILTER (WHERE t.kind IN ('subscription_rebill', 'plan_installment'))
            AS recurring_charges,
        coalesce(len(list_distinct(list(t.order_id) FILTER (WHERE t.kind = 'refund'))), 0)
            AS refunded_orders,
        coalesce(-sum(t.amount) FILTER (WHERE t.kind = 'refund'), 0) AS refunds,
        min(t.transaction_day) FILTER (
            WHERE t.kind = 'order_line' AND t.transaction_day > m.start_day) AS first_repeat_day,
        {horizons},
        {day_literal(as_of)} AS as_of_day
    FROM members m LEFT JOIN transactions t
      ON t.account = m.account AND t.customer_key = m.customer_key
     AND t.transaction_day <= {day_literal(as_of)}
    GROUP BY m.account, m.customer_key"""
