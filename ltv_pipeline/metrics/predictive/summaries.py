"""Customer summaries (x, t_x, T, m_x) from the unified model's `transactions`, as issue 16
defines them.

A purchase occasion is a day (the model's transaction_day, in LTV_TIMEZONE) with at least one
successful order; its value is the charges of that day's order lines minus the refunds of those
lines (refunds dated up to the calibration end: the fit sees only what was known then).
Subscription rebills and plan installments are scheduled, not chosen, so they are not
purchases here. `frequency` x = occasions after the first; `recency` t_x = first to last
occasion; `T` = first occasion to the calibration end day; m_x = mean value of the repeat
occasions.

T ends at the start of the calibration end day (end day - first day): a purchase on the end day
is in the calibration period and has t_x = T. This is how the papers measure it: a CDNOW
customer who first bought on 1997-01-01 has T = 272 days = 38.86 weeks with the period ending
1997-09-30, and only this reading gives their published parameters.
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal

# What the purchase process leaves out, said wherever a prediction is shown.
LEFT_OUT = (
    "subscription rebills and plan installments are scheduled, not chosen: they are left out "
    "of the purchase process (projecting them is later work)"
)

TIME_UNITS = {"day": 1, "week": 7}


def _scope(account: str | None) -> str:
    return "true" if account is None else "account = $account"


def occasions_sql(account: str | None, until: dt.date) -> str:
    """(account, customer_key, day, value) per purchase occasion up to `until`. An order's
    lines share one day (its earliest, should sources disagree), and its refunds go to it.

    The value stays an exact DECIMAL: a sum of floats depends on the order DuckDB's parallel
    aggregation meets the rows in, which changes with how the sales arrived (re-imports,
    webhooks, splits), and the optimizer turns a last-bit change in m_x into a different
    fifth digit of the Gamma-Gamma parameters."""
    end = day_literal(until)
    return f"""
    WITH orders AS (
        SELECT account, order_id, min(customer_key) AS customer_key,
            min(transaction_day) AS day, sum(amount) AS charged
        FROM transactions
        WHERE kind = 'order_line' AND {_scope(account)} AND transaction_day <= {end}
        GROUP BY account, order_id
    ), refunded AS (
        SELECT account, order_id, sum(amount) AS refunded
        FROM transactions
        WHERE kind = 'refund' AND {_scope(account)} AND transaction_day <= {end}
        GROUP BY account, order_id
    )
    SELECT o.account, o.customer_key, o.day,
        sum(o.charged + coalesce(r.refunded, 0)) AS value
    FROM orders o LEFT JOIN refunded r ON o.account = r.account AND o.order_id = r.order_id
    GROUP BY o.account, o.customer_key, o.day"""


def summaries_sql(account: str | None, calibration_end: dt.date, time_unit: str) -> str:
    """One row per customer whose first occasion is on or before the calibration end:
    (account, customer_key, first_day, x, t_x, T, m_x); m_x is 0 without repeat occasions,
    and one division of the exact sum otherwise (so it is the same float however the sales
    arrived)."""
    unit = TIME_UNITS[time_unit]
    end = day_literal(calibration_end)
    return f"""
    WITH occasions AS ({occasions_sql(account, calibration_end)}),
    firsts AS (
        SELECT *, min(day) OVER (PARTITION BY account, customer_key) AS first_day
        FROM occasions
    )
    SELECT account, customer_key, first_day,
        count(*) - 1 AS x,
        date_diff('day', first_day, max(day)) / {unit} AS t_x,
        date_diff('day', first_day, {end}) / {unit} AS "T",
        coalesce(CAST(sum(value) FILTER (WHERE day > first_day) AS DOUBLE) / (count(*) - 1), 0)
            AS m_x
    FROM firsts
    GROUP BY account, customer_key, first_day
    ORDER BY account, customer_key"""


def holdout_occasions_sql(account: str | None, calibration_end: dt.date, end: dt.date) -> str:
    """Repeat occasions after the calibration end up to `end`, of customers already there."""
    return f"""
    WITH occasions AS ({occasions_sql(account, end)})
    SELECT count(*) FROM occasions o
    WHERE o.day > {day_literal(calibration_end)} AND EXISTS (
        SELECT 1 FROM occasions f WHERE f.account = o.account
           AND f.customer_key = o.customer_key AND f.day <= {day_literal(calibration_end)})"""
