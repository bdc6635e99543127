"""Day-N LTV curves, right-censored (ltv-metrics.md: Day-N LTV, Right-censoring, horizons).

Day-N LTV of a group = the sum of its members' transactions on days 0..N after each member's
first purchase, divided by all members. A member counts toward day N only if start + N <= as-of;
a cell whose members are not all eligible is censored (empty), never averaged over a shorter
window. Rows carry sums (revenue, customers, eligible) so that accounts add up.
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.cohort_members import members_sql
from ltv_pipeline.metrics.definitions import HORIZONS, MetricOptions

GROUPINGS = {
    "cohort": ("cohort", "cohort AS group_name"),
    "front_end_product": ("product_id", "min(product_name) AS group_name"),
}


def _window(days: int | None) -> str:
    return "true" if days is None else f"t.transaction_day <= m.start_day + {days}"


def _eligible(days: int | None, as_of: dt.date) -> str:
    return "true" if days is None else f"start_day + {days} <= {day_literal(as_of)}"


def ltv_curves_sql(options: MetricOptions, as_of: dt.date, grouping: str) -> str:
    """Long rows: (account, group_key, group_name, horizon, horizon_days, customers, eligible,
    net_revenue, gross_revenue, net_ltv, gross_ltv, censored, censored_reason)."""
    key, name = GROUPINGS[grouping]
    per_customer = ", ".join(
        f"coalesce(sum(t.amount) FILTER (WHERE {_window(d)}), 0) AS net_{h}, "
        f"coalesce(sum(t.amount) FILTER (WHERE {_window(d)} AND t.amount > 0), 0) AS gross_{h}"
        for h, d in HORIZONS
    )
    per_group = ", ".join(
        f"count(*) FILTER (WHERE {_eligible(d, as_of)}) AS eligible_{h}, "
        f"coalesce(sum(net_{h}) FILTER (WHERE {_eligible(d, as_of)}), 0) AS net_{h}, "
        f"coalesce(sum(gross_{h}) FILTER (WHERE {_eligible(d, as_of)}), 0) AS gross_{h}"
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
    WITH members AS ({members_sql(options, as_of)}),
    per_customer AS (
        SELECT m.account, m.customer_key, any_value(m.start_day) AS start_day,
            any_value(m.cohort) AS cohort, any_value(m.product_id) AS product_id,
            any_value(m.product_name) AS product_name, {per_customer}
        FROM members m LEFT JOIN transactions t
          ON t.account = m.account AND t.customer_key = m.customer_key
         AND t.transaction_day <= {day_literal(as_of)}
        GROUP BY m.account, m.customer_key
    ), grouped AS (
        SELECT account, {key} AS group_key, {name}, count(*) AS customers, {per_group}
        FROM per_customer GROUP BY account, {key}
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
