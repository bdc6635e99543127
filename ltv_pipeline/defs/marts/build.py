"""Each mart as a table built from one metric definition, with its key (one source of truth for
what the marts are; the assets, the checks and the benchmark all read MARTS)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from ltv_pipeline.defs.model.large_tables import for_large_rebuilds
from ltv_pipeline.metrics.as_of import resolve_as_of
from ltv_pipeline.metrics.customer_ltv import customer_ltv_sql
from ltv_pipeline.metrics.definitions import MetricOptions
from ltv_pipeline.metrics.ltv_curves import ltv_curves_sql
from ltv_pipeline.metrics.payment_plans import payment_plans_sql
from ltv_pipeline.metrics.refund_rates import rates_sql, refund_rates_sql
from ltv_pipeline.metrics.repeat_purchases import repeat_purchase_rates_sql
from ltv_pipeline.metrics.subscription_metrics import subscription_metrics_sql
from ltv_pipeline.metrics.time_between_purchases import purchase_gaps_sql

CURVE_COLUMNS = (
    "horizon, horizon_days, customers, eligible, net_revenue, gross_revenue, net_ltv, gross_ltv, "
    "censored, censored_reason, as_of_day"
)
# The marts hold the default options; `ltv report` recomputes the same SQL for other choices.
PERIODS_STORED = ("month", "week")


# The cohort marts aggregate the customer_ltv mart (built first, same options and as-of day).
CUSTOMERS = "customer_ltv"


def _cohort_ltv(as_of: dt.date) -> str:
    return " UNION ALL ".join(
        f"SELECT account, '{period}' AS period, group_key AS cohort, {CURVE_COLUMNS} "
        f"FROM ({ltv_curves_sql(MetricOptions(period=period), as_of, 'cohort', CUSTOMERS)})"
        for period in PERIODS_STORED
    )


def _by_product(as_of: dt.date) -> str:
    curves = ltv_curves_sql(MetricOptions(), as_of, "front_end_product", CUSTOMERS)
    return (
        f"SELECT account, group_key AS product_id, group_name AS product_name, {CURVE_COLUMNS} "
        f"FROM ({curves})"
    )


def _refund_rates(as_of: dt.date) -> str:
    return f"SELECT *, {rates_sql()} FROM ({refund_rates_sql(MetricOptions(), as_of, CUSTOMERS)})"


@dataclass(frozen=True)
class Mart:
    name: str
    key: tuple[str, ...]
    sql: Callable[[dt.date], str]
    description: str
    deps: tuple[str, ...] = ()  # other marts this one aggregates


MARTS: dict[str, Mart] = {
    m.name: m
    for m in [
        Mart(
            "customer_ltv",
            ("account", "customer_key"),
            lambda as_of: customer_ltv_sql(MetricOptions(), as_of),
            "Per customer: net and gross value within each horizon and all time (net_all, "
            "gross_all), refunds, orders, first and last purchase; the base of the cohort marts.",
        ),
        Mart(
            "cohort_ltv",
            ("account", "period", "cohort", "horizon"),
            _cohort_ltv,
            "Net and gross LTV per customer of each acquisition cohort (month and ISO week) at "
            "day 0, 7, 30, 60, 90, 180, 365 and all time; right-censored cells are empty.",
            (CUSTOMERS,),
        ),
        Mart(
            "ltv_by_front_end_product",
            ("account", "product_id", "horizon"),
            _by_product,
            "The same LTV curves per front-end product (the main product of the first order).",
            (CUSTOMERS,),
        ),
        Mart(
            "payment_plans",
            ("account", "subscription_id"),
            payment_plans_sql,
            "Per payment plan: booked, collected, outstanding; due, completed, defaulted.",
        ),
        Mart(
            "subscription_metrics",
            ("account",),
            subscription_metrics_sql,
            "Per account: active subscribers, MRR, 30-day subscriber churn, formula LTV "
            "(a formula, not observed LTV).",
        ),
        Mart(
            "refund_rates",
            ("account", "dimension", "group_key"),
            _refund_rates,
            "Refunded amount / gross charged and refunded orders / orders, by cohort and product.",
            (CUSTOMERS,),
        ),
        Mart(
            "repeat_purchase_rates",
            ("account", "dimension", "group_key", "horizon"),
            lambda as_of: repeat_purchase_rates_sql(MetricOptions(), as_of, CUSTOMERS),
            "Eligible customers with a new checkout order on days 1..N / eligible customers, by "
            "cohort and front-end product.",
            (CUSTOMERS,),
        ),
        Mart(
            "time_between_purchases",
            ("account", "from_order", "days_between"),
            purchase_gaps_sql,
            "How many customers waited how many days from their order k to order k+1; the "
            "median days per k are read from it.",
        ),
    ]
}


def mart_as_of(conn: duckdb.DuckDBPyConnection, mart: Mart, chosen: dt.date | None) -> dt.date:
    """The user's day if set; a mart built on customer_ltv takes the as-of day stored with it
    (the data may have grown since, e.g. a webhook run between two mart steps, and the
    customers' sums stop at that day); otherwise the data's day."""
    if chosen is None and CUSTOMERS in mart.deps:
        stored = conn.execute(f"SELECT max(as_of_day) FROM {CUSTOMERS}").fetchall()[0][0]
        if stored is not None:
            return stored
    return resolve_as_of(conn, chosen)


def build_mart(conn: duckdb.DuckDBPyConnection, mart: Mart, as_of: dt.date | None = None) -> int:
    for_large_rebuilds(conn)
    day = mart_as_of(conn, mart, as_of)
    conn.execute(f"CREATE OR REPLACE TABLE {mart.name} AS {mart.sql(day)}")
    return conn.execute(f"SELECT count(*) FROM {mart.name}").fetchall()[0][0]


def build_marts(conn: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> None:
    for mart in MARTS.values():
        build_mart(conn, mart, as_of)
