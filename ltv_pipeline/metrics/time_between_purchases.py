"""Time between purchases (ltv-metrics.md): median days from purchase k to purchase k+1, over
customers who made purchase k+1.

A purchase is a customer's checkout day: orders on the same day (bumps, upsells) are one
purchase, as for the repeat purchase rate, and rebills and installments are not purchases. A
median cannot be added across accounts, so the mart keeps the distribution (customers per gap,
per account) and the median is read from it for any set of accounts.
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal


def purchase_gaps_sql(as_of: dt.date) -> str:
    """(account, from_purchase, days_between, customers, as_of_day): how many customers waited
    that many days from their purchase k (from 1) to purchase k+1."""
    return f"""
    WITH purchase_days AS (
        SELECT DISTINCT account, customer_key, transaction_day AS day FROM transactions
        WHERE kind = 'order_line' AND transaction_day <= {day_literal(as_of)}
    ), sequenced AS (
        SELECT account, day,
            row_number() OVER (PARTITION BY account, customer_key ORDER BY day) AS from_purchase,
            lead(day) OVER (PARTITION BY account, customer_key ORDER BY day) AS next_day
        FROM purchase_days
    )
    SELECT account, from_purchase, date_diff('day', day, next_day) AS days_between,
        count(*) AS customers, {day_literal(as_of)} AS as_of_day
    FROM sequenced WHERE next_day IS NOT NULL
    GROUP BY account, from_purchase, days_between"""


def median_days_sql(gaps: str) -> str:
    """(from_purchase, customers, median_days) from gap rows, all the given accounts together;
    with an even count the median is the mean of the two middle gaps."""
    return f"""
    WITH counts AS (
        SELECT from_purchase, days_between, sum(customers) AS n FROM ({gaps}) GROUP BY ALL
    ), running AS (
        SELECT *, sum(n) OVER (PARTITION BY from_purchase ORDER BY days_between) AS up_to,
            sum(n) OVER (PARTITION BY from_purchase) AS total
        FROM counts
    )
    SELECT from_purchase, any_value(total) AS customers,
        (min(days_between) FILTER (WHERE up_to >= (total + 1) // 2)
         + min(days_between) FILTER (WHERE up_to >= total // 2 + 1)) / 2 AS median_days
    FROM running GROUP BY from_purchase ORDER BY from_purchase"""
