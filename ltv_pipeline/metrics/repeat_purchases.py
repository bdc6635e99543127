"""Repeat purchase rate (day N): eligible customers with a new checkout order on days 1..N /
eligible customers. Rebills and installments are not repeat purchases, and same-day bumps and
upsells (day 0) are not either. Eligibility is the same right-censoring as the LTV curves."""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.definitions import PERIODS, REPEAT_HORIZONS
from ltv_pipeline.metrics.ltv_curves import eligible_sql, group_columns
from ltv_pipeline.metrics.refund_rates import cohort_dimension

FRONT_END_PRODUCT_DIMENSION = "front_end_product"


def repeat_purchase_rates_sql(as_of: dt.date, groups: str) -> str:
    """From start-day group rows (day_groups.py), by cohort of each period and by front-end
    product."""
    dimensions = [(cohort_dimension(p), "cohort", p) for p in PERIODS]
    dimensions.append((FRONT_END_PRODUCT_DIMENSION, "front_end_product", None))
    parts = []
    for dimension, grouping, period in dimensions:
        key, name = group_columns(grouping, period)
        for h, d in REPEAT_HORIZONS:
            eligible = eligible_sql(d, as_of)
            parts.append(
                f"""SELECT account, cohort_start, '{dimension}' AS dimension,
                    {key} AS group_key, min({name}) AS group_name, '{h}' AS horizon,
                    CAST({"NULL" if d is None else d} AS INTEGER) AS horizon_days,
                    sum(customers) AS customers,
                    coalesce(sum(customers) FILTER (WHERE {eligible}), 0) AS eligible,
                    coalesce(sum(repeaters_{h}) FILTER (WHERE {eligible}), 0)
                        AS repeat_customers
                FROM {groups} WHERE first_purchase_day <= {day_literal(as_of)}
                GROUP BY account, cohort_start, {key}"""
            )
    return f"""
    SELECT *, round(repeat_customers / nullif(eligible, 0), 4) AS repeat_rate,
        eligible < customers AS censored, {day_literal(as_of)} AS as_of_day
    FROM ({" UNION ALL ".join(parts)})"""
