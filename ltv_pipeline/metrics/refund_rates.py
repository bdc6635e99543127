"""Refund rates, both ways (docs/metrics.md: Refund rate): refunded amount / gross charged, and
refunded orders / orders; partial refunds make them differ. By cohort and by product."""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.day_groups import START_COLUMNS
from ltv_pipeline.metrics.definitions import PERIODS
from ltv_pipeline.metrics.ltv_curves import group_columns


def cohort_dimension(period: str) -> str:
    """The dimension name of cohort rows of a period (product rows have no period)."""
    return f"cohort_{period}"


PRODUCT_DIMENSION = "product"


def refund_rates_sql(as_of: dt.date, groups: str, products: str, customers: str) -> str:
    """Rows (account, cohort_start, dimension, group_key, group_name, gross_charged,
    refunded_amount, orders, refunded_orders, as_of_day): cohort rows sum the start-day
    groups; product rows sum each member's lines by the product of the line (`products`,
    per customer and product, of the members of `customers` under each cohort start)."""
    as_of_sql = day_literal(as_of)
    cohorts = " UNION ALL ".join(
        f"""SELECT account, cohort_start, '{cohort_dimension(period)}' AS dimension,
            {key} AS group_key, min({name}) AS group_name,
            sum(gross_all) AS gross_charged, sum(refunded_amount) AS refunded_amount,
            sum(orders) AS orders, sum(refunded_orders) AS refunded_orders
        FROM {groups} WHERE first_purchase_day <= {as_of_sql}
        GROUP BY account, cohort_start, {key}"""
        for period in PERIODS
        for key, name in [group_columns("cohort", period)]
    )
    by_product = " UNION ALL ".join(
        f"""SELECT p.account, '{start}', '{PRODUCT_DIMENSION}', p.product_id,
            min(p.product_name), sum(p.gross_charged), sum(p.refunded_amount), sum(p.orders),
            sum(p.refunded_orders)
        FROM {products} p SEMI JOIN {customers} c
          ON p.account = c.account AND p.customer_key = c.customer_key
         AND c.{column} IS NOT NULL AND c.{column} <= {as_of_sql}
        GROUP BY p.account, p.product_id"""
        for start, (column, _, _) in START_COLUMNS.items()
    )
    return f"SELECT *, {as_of_sql} AS as_of_day FROM ({cohorts} UNION ALL {by_product})"


def rates_sql() -> str:
    return (
        "round(refunded_amount / nullif(gross_charged, 0), 4) AS refund_rate_amount, "
        "round(refunded_orders / nullif(orders, 0), 4) AS refund_rate_orders"
    )
