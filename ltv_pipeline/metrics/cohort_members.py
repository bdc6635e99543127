"""Who belongs to which cohort: the one definition every cohort metric starts from."""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.definitions import MetricOptions, cohort_label_sql


def members_sql(options: MetricOptions, as_of: dt.date) -> str:
    """(account, customer_key, start_day, cohort, front-end product) of customers whose cohort
    has started by the as-of day. Membership never changes, even if the first order is later
    refunded; with cohort_start = first_paid_order a customer joins at the first order > $0."""
    start = (
        "first_purchase_day" if options.cohort_start == "first_order" else "first_paid_purchase_day"
    )
    return f"""
    SELECT account, customer_key, {start} AS start_day,
        {cohort_label_sql(options.period, start)} AS cohort,
        coalesce(front_end_product_id, '(none)') AS product_id,
        coalesce(front_end_product_name, '(no order)') AS product_name
    FROM customers WHERE {start} IS NOT NULL AND {start} <= {day_literal(as_of)}"""
