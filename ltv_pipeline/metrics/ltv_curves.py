"""Day-N LTV curves, right-censored (docs/metrics.md: Day-N LTV, Right-censoring, horizons).

Day-N LTV of a group = the sum of its members' transactions on days 0..N after each member's
first purchase, divided by all members. A member counts toward day N only if start + N <= as-of;
a cell whose members are not all eligible is censored (empty), never averaged over a shorter
window. Rows carry sums (revenue, customers, eligible) so that accounts add up.
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.definitions import HORIZONS, MetricOptions, cohort_label_sql


def group_columns(options: MetricOptions, grouping: str) -> tuple[str, str]:
    """(group key, group name) expressions over per-customer rows (customer_ltv.py)."""
    if grouping == "cohort":
        label = cohort_label_sql(options.period, "first_purchase_day")
        return label, label
    return "front_end_product_id", "front_end_product_name"


def eligible_sql(days: int | None, as_of: dt.date) -> str:
    return "true" if days is None else f"first_purchase_day + {days} <= {day_literal(as_of)}"


def ltv_curves_sql(options: MetricOptions, as_of: dt.date, grouping: str, customers: str) -> str:
    """Long rows (account, group_key, group_name, horizon, horizon_days, customers, eligible,
    net_revenue, gross_revenue, as_of_day, net_ltv, gross_ltv, censored, censored_reason) from
    `customers`, a table or subquery of per-customer rows built for the same options."""
    key, name = group_columns(options, grouping)
    per_group = ", ".join(
        f"count(*) FILTER (WHERE {eligible_sql(d, as_of)}) AS eligible_{h}, "
        f"coalesce(sum(net_{h}) FILTER (WHERE {eligible_sql(d, as_of)}), 0) AS net_{h}, "
        f"coalesce(sum(gross_{h}) FILTER (WHERE {eligible_sql(d, as_of)}), 0) AS gross_{h}"
        for h, d in HORIZONS
    )
    horizons = " UNION ALL ".join(
        f"""SELECT account, group_key, group_name, '{h}' AS horizon,
            CAST({"NULL" if d is None else d} AS INTEGER) AS horizon_days, customers,
            eligible_{h} AS eligible, net_{h} AS net_revenue, gross_{h} AS gross_revenue
        FROM grouped"""
        for h, d in HORIZONS
    )
    return f"""
    WITH grouped AS (
        SELECT account, {key} AS group_key, min({name}) AS group_name, count(*) AS customers,
            {per_group}
        FROM {customers} GROUP BY account, {key}
    ), long AS ({horizons})
    SELECT *, {day_literal(as_of)} AS as_of_day,
        CASE WHEN eligible = customers THEN round(net_revenue / customers, 2) END AS net_ltv,
        CASE WHEN eligible = customers THEN round(gross_revenue / customers, 2) END AS gross_ltv,
        eligible < customers AS censored,
        CASE WHEN eligible < customers THEN
            (customers - eligible) || ' of ' || customers
            || ' customers are not yet ' || horizon_days || ' days past their first purchase'
        END AS censored_reason
    FROM long"""
