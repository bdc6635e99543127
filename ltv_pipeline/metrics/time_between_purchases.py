"""Time between purchases (docs/metrics.md): median days from order k to order k+1, over
customers who placed order k+1.

Orders are checkout orders in the customer's order (earliest order time, then lowest order id,
as for the first order); rebills and installments are not orders. A one-click upsell is its own
order, so it counts as a next order 0 days later. A median cannot be added across accounts, so
the mart keeps the distribution (customers per gap, per account) and the median is read from it
for any set of accounts.
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.definitions import order_rank_sql


def customer_gaps_sql(as_of: dt.date | None = None) -> str:
    """(account, customer_key, from_order, days_between): each customer's wait from their
    order k (from 1) to order k+1, kept per customer so a change redoes only its customers."""
    until = "true" if as_of is None else f"transaction_day <= {day_literal(as_of)}"
    return f"""
    WITH orders AS (
        SELECT account, customer_key, order_id, min(transaction_day) AS day,
            min(transaction_at) AS moment
        FROM transactions
        WHERE kind = 'order_line' AND {until}
        GROUP BY account, customer_key, order_id
    ), sequenced AS (
        SELECT account, customer_key, day, row_number() OVER in_order AS from_order,
            lead(day) OVER in_order AS next_day
        FROM orders
        WINDOW in_order AS (PARTITION BY account, customer_key ORDER BY {order_rank_sql()})
    )
    SELECT account, customer_key, from_order, date_diff('day', day, next_day) AS days_between
    FROM sequenced WHERE next_day IS NOT NULL"""


def purchase_gaps_sql(as_of: dt.date, gaps: str) -> str:
    """(account, from_order, days_between, customers, as_of_day): how many customers waited
    that many days from their order k to order k+1, from per-customer gaps."""
    return f"""
    SELECT account, from_order, days_between, count(*) AS customers,
        {day_literal(as_of)} AS as_of_day
    FROM {gaps} GROUP BY account, from_order, days_between"""


def median_days_sql(gaps: str) -> str:
    """(from_order, customers, median_days) from gap rows, all the given accounts together;
    with an even count the median is the mean of the two middle gaps."""
    return f"""
    WITH counts AS (
        SELECT from_order, days_between, sum(customers) AS n FROM ({gaps}) GROUP BY ALL
    ), running AS (
        SELECT *, sum(n) OVER (PARTITION BY from_order ORDER BY days_between) AS up_to,
            sum(n) OVER (PARTITION BY from_order) AS total
        FROM counts
    )
    SELECT from_order, any_value(total) AS customers,
        (min(days_between) FILTER (WHERE up_to >= (total + 1) // 2)
         + min(days_between) FILTER (WHERE up_to >= total // 2 + 1)) / 2 AS median_days
    FROM running GROUP BY from_order ORDER BY from_order"""
