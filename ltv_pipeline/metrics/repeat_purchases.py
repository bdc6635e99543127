"""Repeat purchase rate (day N): eligible customers with a new checkout order on days 1..N /
eligible customers. Rebills and installments are not repeat purchases, and same-day bumps and
upsells (day 0) are not either. Eligibility is the same right-censoring as the LTV curves."""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.cohort_members import members_sql
from ltv_pipeline.metrics.definitions import REPEAT_HORIZONS, MetricOptions


def repeat_purchase_rates_sql(options: MetricOptions, as_of: dt.date) -> str:
    as_of_sql = day_literal(as_of)
    per_customer = ", ".join(
        f"count(t.order_id) FILTER (WHERE t.transaction_day > m.start_day"
        f"{'' if d is None else f' AND t.transaction_day <= m.start_day + {d}'}) > 0 AS rep_{h}"
        for h, d in REPEAT_HORIZONS
    )
    horizons = " UNION ALL ".join(
        f"""SELECT account, dimension, group_key, group_name, '{h}' AS horizon,
            CAST({"NULL" if d is None else d} AS INTEGER) AS horizon_days,
            count(*) AS customers,
            count(*) FILTER (WHERE {"true" if d is None else f"start_day + {d} <= {as_of_sql}"})
                AS eligible,
            count(*) FILTER (WHERE rep_{h} AND
                {"true" if d is None else f"start_day + {d} <= {as_of_sql}"}) AS repeat_customers
        FROM grouped GROUP BY account, dimension, group_key, group_name"""
        for h, d in REPEAT_HORIZONS
    )
    return f"""
    WITH members AS ({members_sql(options, as_of)}),
    per_customer AS (
        SELECT m.account, m.customer_key, any_value(m.start_day) AS start_day,
            any_value(m.cohort) AS cohort, any_value(m.product_id) AS product_id,
            any_value(m.product_name) AS product_name, {per_customer}
        FROM members m LEFT JOIN (
            SELECT DISTINCT account, customer_key, order_id, transaction_day FROM transactions
            WHERE kind = 'order_line' AND transaction_day <= {as_of_sql}
        ) t ON t.account = m.account AND t.customer_key = m.customer_key
        GROUP BY m.account, m.customer_key
    ), grouped AS (
        SELECT *, 'cohort' AS dimension, cohort AS group_key, cohort AS group_name
        FROM per_customer
        UNION ALL
        SELECT *, 'front_end_product', product_id, product_name FROM per_customer
    )
    SELECT *, round(repeat_customers / nullif(eligible, 0), 4) AS repeat_rate,
        eligible < customers AS censored, {as_of_sql} AS as_of_day
    FROM ({horizons})"""
