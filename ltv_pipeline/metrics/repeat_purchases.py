"""Repeat purchase rate (day N): eligible customers with a new checkout order on days 1..N /
eligible customers. Rebills and installments are not repeat purchases, and same-day bumps and
upsells (day 0) are not either. Eligibility is the same right-censoring as the LTV curves."""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.definitions import REPEAT_HORIZONS, MetricOptions
from ltv_pipeline.metrics.ltv_curves import eligible_sql, group_columns


def repeat_purchase_rates_sql(options: MetricOptions, as_of: dt.date, customers: str) -> str:
    """From per-customer rows (customer_ltv.py), by cohort and by front-end product."""
    parts = []
    for dimension, grouping in (("cohort", "cohort"), ("front_end_product", "product")):
        key, name = group_columns(options, grouping)
        for h, d in REPEAT_HORIZONS:
            eligible = eligible_sql(d, as_of)
            within = "true" if d is None else f"first_repeat_day <= first_purchase_day + {d}"
            parts.append(
                f"""SELECT account, '{dimension}' AS dimension, {key} AS group_key,
                    min({name}) AS group_name, '{h}' AS horizon,
                    CAST({"NULL" if d is None else d} AS INTEGER) AS horizon_days,
                    count(*) AS customers, count(*) FILTER (WHERE {eligible}) AS eligible,
                    count(*) FILTER (WHERE {eligible} AND first_repeat_day IS NOT NULL
                                     AND {within}) AS repeat_customers
                FROM {customers} GROUP BY account, {key}"""
            )
    return f"""
    SELECT *, round(repeat_customers / nullif(eligible, 0), 4) AS repeat_rate,
        eligible < customers AS censored, {day_literal(as_of)} AS as_of_day
    FROM ({" UNION ALL ".join(parts)})"""
