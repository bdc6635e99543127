"""Recurring subscriptions: active subscribers, MRR, 30-day subscriber churn and the formula
LTV (docs/metrics.md: MRR, Subscriber churn, Formula LTV). Payment plans and one-time charges
are excluded. Formula LTV = ARPA (MRR / active subscribers) / monthly churn; it is a formula,
labelled as such and never mixed with the observed (cohort) LTV.

A subscription ends when canceled (its cancel day) or when delinquent for more than
DELINQUENT_GRACE_DAYS. An export that says canceled without a date is taken to end when its next
charge would have fallen (marked as estimated).
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.definitions import (
    CHURN_WINDOW_DAYS,
    DELINQUENT_GRACE_DAYS,
    MRR_FACTORS,
    schedule_day_sql,
    sql_case,
)

FORMULA_LABEL = "formula: ARPA / 30-day subscriber churn (not observed LTV)"


def recurring_spans_sql() -> str:
    """Each recurring subscription as a span [created_date, ended_day) with its monthly price."""
    next_charge = schedule_day_sql("created_date", "frequency", "greatest(payments_made, 1)")
    return f"""
    SELECT account, subscription_id, customer_key, product_id, product_name, status,
        created_date,
        CASE
            WHEN status IN ('canceled', 'completed') THEN coalesce(canceled_date, {next_charge})
            WHEN status = 'delinquent'
                THEN coalesce(delinquent_since, {next_charge}) + {DELINQUENT_GRACE_DAYS}
        END AS ended_day,
        status IN ('canceled', 'completed') AND canceled_date IS NULL
            OR status = 'delinquent' AND delinquent_since IS NULL AS end_estimated,
        status IN ('paused', 'pending') AS on_hold,
        recurring_price * {sql_case("frequency", MRR_FACTORS)} AS monthly_price
    FROM subscriptions WHERE plan_kind = 'recurring'"""


def subscription_metrics_sql(as_of: dt.date) -> str:
    """One row per account: summable counts and sums, and the rates derived from them."""
    as_of_sql = day_literal(as_of)
    start_sql = f"({as_of_sql} - {CHURN_WINDOW_DAYS})"

    def active_on(day: str) -> str:
        return f"created_date <= {day} AND (ended_day IS NULL OR ended_day > {day}) AND NOT on_hold"

    return f"""
    WITH spans AS ({recurring_spans_sql()}),
    per_customer AS (
        SELECT account, customer_key,
            bool_or({active_on(start_sql)}) AS active_at_start,
            bool_or({active_on(as_of_sql)}) AS active_now,
            bool_or(ended_day > {start_sql} AND ended_day <= {as_of_sql}) AS ended_in_window,
            coalesce(sum(monthly_price) FILTER (WHERE {active_on(as_of_sql)}), 0) AS mrr,
            count(*) FILTER (WHERE {active_on(as_of_sql)}) AS active_subscriptions
        FROM spans GROUP BY account, customer_key
    ), per_account AS (
        SELECT account,
            count(*) FILTER (WHERE active_now) AS active_subscribers,
            sum(active_subscriptions) AS active_subscriptions,
            CAST(round(sum(mrr), 2) AS DECIMAL(18, 2)) AS mrr,
            count(*) FILTER (WHERE active_at_start) AS subscribers_at_window_start,
            count(*) FILTER (WHERE active_at_start AND NOT active_now AND ended_in_window)
                AS churned_subscribers
        FROM per_customer GROUP BY account
    )
    SELECT *, {start_sql} AS churn_window_start, {as_of_sql} AS as_of_day,
        {derived_rates_sql()}
    FROM per_account"""


def derived_rates_sql(
    mrr: str = "mrr",
    active: str = "active_subscribers",
    churned: str = "churned_subscribers",
    at_start: str = "subscribers_at_window_start",
) -> str:
    """ARPA, churn and formula LTV from the summable columns (also used across accounts)."""
    arpa = f"{mrr} / nullif({active}, 0)"
    churn = f"{churned} / nullif({at_start}, 0)"
    return (
        f"round({arpa}, 2) AS arpa, round({churn}, 4) AS churn_rate_30d, "
        f"round(({arpa}) / nullif({churn}, 0), 2) AS formula_ltv, "
        f"'{FORMULA_LABEL}' AS formula_ltv_label"
    )
