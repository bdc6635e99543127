"""Per-customer totals: what each customer has been worth so far, net and gross."""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.cohort_members import members_sql
from ltv_pipeline.metrics.definitions import MetricOptions


def customer_ltv_sql(options: MetricOptions, as_of: dt.date) -> str:
    return f"""
    WITH members AS ({members_sql(options, as_of)})
    SELECT m.account, m.customer_key, m.cohort, m.start_day AS first_purchase_day,
        max(t.transaction_day) FILTER (WHERE t.amount > 0) AS last_purchase_day,
        m.product_id AS front_end_product_id, m.product_name AS front_end_product_name,
        count(DISTINCT t.order_id) FILTER (WHERE t.kind = 'order_line') AS orders,
        count(*) FILTER (WHERE t.kind <> 'order_line' AND t.kind <> 'refund') AS recurring_charges,
        count(DISTINCT t.order_id) FILTER (WHERE t.kind = 'refund') AS refunded_orders,
        coalesce(sum(t.amount) FILTER (WHERE t.amount > 0), 0) AS gross_revenue,
        coalesce(-sum(t.amount) FILTER (WHERE t.amount < 0), 0) AS refunds,
        coalesce(sum(t.amount), 0) AS net_revenue,
        {day_literal(as_of)} AS as_of_day
    FROM members m LEFT JOIN transactions t
      ON t.account = m.account AND t.customer_key = m.customer_key
     AND t.transaction_day <= {day_literal(as_of)}
    GROUP BY ALL"""
