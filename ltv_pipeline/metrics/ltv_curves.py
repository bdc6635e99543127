"""Day-N LTV curves, right-censored (docs/metrics.md: Day-N LTV, Right-censoring, Pooled
groups, horizons).

Day-N LTV of a group = the sum of its members' transactions on days 0..N after each member's
first purchase, divided by its members. A member counts toward day N only if start + N <= as-of.
A cohort cell whose members are not all eligible is censored (empty), never averaged over a
shorter window. A pooled group (a front-end product, all customers: acquired over a long span)
averages a day-N cell over its eligible members, each with a full window, and is empty only
when fewer than POOLED_MIN_ELIGIBLE are eligible. Rows carry sums (revenue, customers, eligible)
so that accounts add up. Groups are read from the start-day groups (day_groups.py), so a later
as-of day re-reads only those.
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.definitions import HORIZONS, POOLED_MIN_ELIGIBLE, cohort_label_sql

# The groupings a curve can be read by; all but cohorts pool customers of a long span.
GROUPINGS = ("cohort", "front_end_product", "all_customers")
POOLED_GROUPINGS = ("front_end_product", "all_customers")
ALL_CUSTOMERS = ("'(all customers)'", "'All customers'")


def cell_value_sql(revenue: str, customers: str, eligible: str, pooled: bool) -> str:
    """A curve cell: strict (every member eligible) or pooled (enough eligible members)."""
    if pooled:
        value, when = f"{revenue} / {eligible}", f"{eligible} >= {POOLED_MIN_ELIGIBLE}"
    else:
        value, when = f"{revenue} / {customers}", f"{eligible} = {customers}"
    # Money to the cent, as money: a DECIMAL prints 281.00 where a DOUBLE prints 281.0.
    return f"CASE WHEN {when} THEN CAST(round({value}, 2) AS DECIMAL(18, 2)) END"


def censored_sql(customers: str, eligible: str, pooled: bool) -> tuple[str, str]:
    """(is the cell empty, why) for the rule of the grouping."""
    if pooled:
        return (
            f"{eligible} < {POOLED_MIN_ELIGIBLE}",
            f"CASE WHEN {eligible} < {POOLED_MIN_ELIGIBLE} THEN 'only ' || {eligible} || ' of ' "
            f"|| {customers} || ' customers are ' || horizon_days || ' days past their first "
            f"purchase (fewer than {POOLED_MIN_ELIGIBLE})' END",
        )
    return (
        f"{eligible} < {customers}",
        f"CASE WHEN {eligible} < {customers} THEN ({customers} - {eligible}) || ' of ' || "
        f"{customers} || ' customers are not yet ' || horizon_days || ' days past their first "
        "purchase' END",
    )


def group_columns(grouping: str, period: str | None) -> tuple[str, str]:
    """(group key, group name) expressions over start-day group rows (day_groups.py)."""
    if grouping == "cohort":
        assert period is not None
        label = cohort_label_sql(period, "first_purchase_day")
        return label, label
    if grouping == "all_customers":
        return ALL_CUSTOMERS
    return "product_id", "product_name"


def eligible_sql(days: int | None, as_of: dt.date) -> str:
    return "true" if days is None else f"first_purchase_day + {days} <= {day_literal(as_of)}"


def ltv_curves_sql(as_of: dt.date, grouping: str, period: str | None, groups: str) -> str:
    """Long rows (account, cohort_start, group_key, group_name, horizon, horizon_days, customers,
    eligible, net_revenue, gross_revenue, as_of_day, net_ltv, gross_ltv, censored,
    censored_reason) from `groups`, start-day group rows."""
    key, name = group_columns(grouping, period)
    per_group = ", ".join(
        f"coalesce(sum(customers) FILTER (WHERE {eligible_sql(d, as_of)}), 0) AS eligible_{h}, "
        f"coalesce(sum(net_{h}) FILTER (WHERE {eligible_sql(d, as_of)}), 0) AS net_{h}, "
        f"coalesce(sum(gross_{h}) FILTER (WHERE {eligible_sql(d, as_of)}), 0) AS gross_{h}"
        for h, d in HORIZONS
    )
    horizons = " UNION ALL ".join(
        f"""SELECT account, cohort_start, group_key, group_name, '{h}' AS horizon,
            CAST({"NULL" if d is None else d} AS INTEGER) AS horizon_days, customers,
            eligible_{h} AS eligible, net_{h} AS net_revenue, gross_{h} AS gross_revenue
        FROM grouped"""
        for h, d in HORIZONS
    )
    pooled = grouping in POOLED_GROUPINGS
    censored, reason = censored_sql("customers", "eligible", pooled)
    return f"""
    WITH grouped AS (
        SELECT account, cohort_start, {key} AS group_key, min({name}) AS group_name,
            sum(customers) AS customers, {per_group}
        FROM {groups} WHERE first_purchase_day <= {day_literal(as_of)}
        GROUP BY account, cohort_start, {key}
    ), long AS ({horizons})
    SELECT *, {day_literal(as_of)} AS as_of_day,
        {cell_value_sql("net_revenue", "customers", "eligible", pooled)} AS net_ltv,
        {cell_value_sql("gross_revenue", "customers", "eligible", pooled)} AS gross_ltv,
        {censored} AS censored, {reason} AS censored_reason
    FROM long"""
