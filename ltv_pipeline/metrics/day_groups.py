"""Customers summed by the day they started and their front-end product, per cohort start.

Every cohort and product figure (LTV curves, repeat purchase and refund rates) is a sum of
these rows: a cohort of any period is a range of start days, a product is a set of them, and
right-censoring (docs/metrics.md) asks only whether start day + N has passed the as-of day. So
when the as-of day moves, the groups are re-read from these few rows; the customers and their
transactions are not touched. Rows carry sums and counts, never averages, so that accounts and
days add up.
"""

from __future__ import annotations

from ltv_pipeline.metrics.definitions import COHORT_STARTS, HORIZONS, REPEAT_HORIZONS

# The per-customer columns (customer_ltv.py) each cohort start reads its start and sums from.
START_COLUMNS = {
    "first_order": ("first_purchase_day", "first_repeat_day", ""),
    "first_paid_order": ("first_paid_purchase_day", "paid_first_repeat_day", "paid_"),
}
assert tuple(START_COLUMNS) == COHORT_STARTS


def _one_start(customers: str, cohort_start: str) -> str:
    start, repeat, prefix = START_COLUMNS[cohort_start]
    sums = ", ".join(
        f"sum({prefix if d is not None else ''}{basis}_{h}) AS {basis}_{h}"
        for h, d in HORIZONS
        for basis in ("net", "gross")
    )
    repeaters = ", ".join(
        f"count(*) FILTER (WHERE {repeat} <= {start} + {d}) AS repeaters_{h}"
        if d is not None
        else f"count({repeat}) AS repeaters_{h}"
        for h, d in REPEAT_HORIZONS
    )
    return f"""
    SELECT account, '{cohort_start}' AS cohort_start, {start} AS first_purchase_day,
        front_end_product_id AS product_id, min(front_end_product_name) AS product_name,
        count(*) AS customers, {sums}, {repeaters},
        sum(refunds) AS refunded_amount, sum(orders) AS orders,
        sum(refunded_orders) AS refunded_orders
    FROM {customers} WHERE {start} IS NOT NULL
    GROUP BY account, {start}, front_end_product_id"""


def day_groups_sql(customers: str) -> str:
    """(account, cohort_start, first_purchase_day, product_id) rows from per-customer rows."""
    return " UNION ALL ".join(_one_start(customers, start) for start in COHORT_STARTS)
