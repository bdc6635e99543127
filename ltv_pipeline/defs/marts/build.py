"""Each mart as a table built from one metric definition, with its key (one source of truth for
what the marts are; the assets, the checks, the reports and the benchmark all read MARTS).

Two kinds:
- per-customer marts (customer_ltv, customer_products, customer_purchase_gaps) hold one row per
  customer (and product, or order); each is kept up to date incrementally: the model logs which
  customers its build changed (warehouse/customer_changes.py) and the mart replaces exactly
  their rows, or rebuilds whole when the model did;
- group marts are sums of those rows (by start day, cohort, product, account), rebuilt whole
  each time: their work grows with the customers, never with the transactions, and a later
  as-of day moves only them.
`ltv report` and the published snapshot read these tables. A past as-of day, which no stored
mart holds, is answered by the same definitions built into temporary tables (marts_as_of).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from ltv_pipeline.defs.model.large_tables import for_large_rebuilds
from ltv_pipeline.lib.transaction import one_transaction
from ltv_pipeline.metrics.as_of import resolve_as_of
from ltv_pipeline.metrics.customer_ltv import customer_ltv_sql, customer_products_sql
from ltv_pipeline.metrics.day_groups import day_groups_sql
from ltv_pipeline.metrics.definitions import PERIODS
from ltv_pipeline.metrics.ltv_curves import ltv_curves_sql
from ltv_pipeline.metrics.payment_plans import payment_plans_sql
from ltv_pipeline.metrics.refund_rates import rates_sql, refund_rates_sql
from ltv_pipeline.metrics.repeat_purchases import repeat_purchase_rates_sql
from ltv_pipeline.metrics.subscription_metrics import subscription_metrics_sql
from ltv_pipeline.metrics.time_between_purchases import customer_gaps_sql, purchase_gaps_sql
from ltv_pipeline.warehouse.catalog import table_exists
from ltv_pipeline.warehouse.customer_changes import (
    CHANGED_CUSTOMERS,
    CONSUMERS,
    PendingChanges,
    forget_applied,
    mark_applied,
    pending_changes,
)

CURVE_COLUMNS = (
    "horizon, horizon_days, customers, eligible, net_revenue, gross_revenue, net_ltv, gross_ltv, "
    "censored, censored_reason, as_of_day"
)
CUSTOMERS = "customer_ltv"
PRODUCTS = "customer_products"
GAPS = "customer_purchase_gaps"
GROUPS = "ltv_daily_groups"
# What a per-customer mart reads: narrowed to the changed customers for an incremental update.
CUSTOMER_SOURCES = ("customers", "transactions")


def _cohort_ltv(as_of: dt.date | None) -> str:
    assert as_of is not None
    return " UNION ALL ".join(
        f"SELECT account, cohort_start, '{period}' AS period, group_key AS cohort, "
        f"{CURVE_COLUMNS} FROM ({ltv_curves_sql(as_of, 'cohort', period, GROUPS)})"
        for period in PERIODS
    )


def _by_product(as_of: dt.date | None) -> str:
    assert as_of is not None
    curves = ltv_curves_sql(as_of, "front_end_product", None, GROUPS)
    return (
        f"SELECT account, cohort_start, group_key AS product_id, group_name AS product_name, "
        f"{CURVE_COLUMNS} FROM ({curves})"
    )


def _all_customers(as_of: dt.date | None) -> str:
    assert as_of is not None
    curves = ltv_curves_sql(as_of, "all_customers", None, GROUPS)
    return f"SELECT account, cohort_start, {CURVE_COLUMNS} FROM ({curves})"


def _refund_rates(as_of: dt.date | None) -> str:
    assert as_of is not None
    return f"SELECT *, {rates_sql()} FROM ({refund_rates_sql(as_of, GROUPS, PRODUCTS, CUSTOMERS)})"


def _with_day(sql: Callable[[dt.date], str]) -> Callable[[dt.date | None], str]:
    def built(as_of: dt.date | None) -> str:
        assert as_of is not None
        return sql(as_of)

    return built


@dataclass(frozen=True)
class Mart:
    name: str
    key: tuple[str, ...]
    sql: Callable[[dt.date | None], str]  # per-customer marts: None means every transaction
    description: str
    deps: tuple[str, ...] = ()  # other marts this one aggregates
    per_customer: bool = False


MARTS: dict[str, Mart] = {
    m.name: m
    for m in [
        Mart(
            CUSTOMERS,
            ("account", "customer_key"),
            customer_ltv_sql,
            "Per customer: net and gross value within each horizon and all time (net_all, "
            "gross_all) from the first order, and from the first paid order (paid_*), refunds, "
            "orders, first and last purchase. Updated for the customers a model build changed.",
            per_customer=True,
        ),
        Mart(
            PRODUCTS,
            ("account", "customer_key", "product_id"),
            customer_products_sql,
            "Per customer and product of each line: gross charged, refunded, orders, refunded "
            "orders (the product side of the refund rates). Updated for changed customers.",
            per_customer=True,
        ),
        Mart(
            GAPS,
            ("account", "customer_key", "from_order"),
            customer_gaps_sql,
            "Per customer: days from their order k to order k+1. Updated for changed customers.",
            per_customer=True,
        ),
        Mart(
            GROUPS,
            ("account", "cohort_start", "first_purchase_day", "product_id"),
            lambda as_of: day_groups_sql(CUSTOMERS),
            "Customers summed by start day and front-end product, per cohort start: horizon "
            "sums, repeat buyers per horizon, refunds and orders. Every cohort and product "
            "figure is a sum of these rows, so a later as-of day re-reads only them.",
            (CUSTOMERS,),
        ),
        Mart(
            "cohort_ltv",
            ("account", "cohort_start", "period", "cohort", "horizon"),
            _cohort_ltv,
            "Net and gross LTV per customer of each acquisition cohort (month, ISO week and "
            "day; cohorts from the first order and from the first paid order) at day 0, 7, 30, "
            "60, 90, 180, 365 and all time; right-censored cells are empty.",
            (GROUPS,),
        ),
        Mart(
            "ltv_by_front_end_product",
            ("account", "cohort_start", "product_id", "horizon"),
            _by_product,
            "The same LTV curves per front-end product (the main product of the first order).",
            (GROUPS,),
        ),
        Mart(
            "ltv_all_customers",
            ("account", "cohort_start", "horizon"),
            _all_customers,
            "The LTV curve of all customers together, pooled: a day-N cell averages over the "
            "customers at least N days old, and is empty when fewer than 30 are.",
            (GROUPS,),
        ),
        Mart(
            "payment_plans",
            ("account", "subscription_id"),
            _with_day(payment_plans_sql),
            "Per payment plan: booked, collected, outstanding; due, completed, defaulted.",
        ),
        Mart(
            "subscription_metrics",
            ("account",),
            _with_day(subscription_metrics_sql),
            "Per account: active subscribers, MRR, 30-day subscriber churn, formula LTV "
            "(a formula, not observed LTV).",
        ),
        Mart(
            "refund_rates",
            ("account", "cohort_start", "dimension", "group_key"),
            _refund_rates,
            "Refunded amount / gross charged and refunded orders / orders, by cohort "
            "(cohort_month, cohort_week, cohort_day) and by product.",
            (GROUPS, PRODUCTS, CUSTOMERS),
        ),
        Mart(
            "repeat_purchase_rates",
            ("account", "cohort_start", "dimension", "group_key", "horizon"),
            lambda as_of: repeat_purchase_rates_sql(as_of, GROUPS),  # type: ignore[arg-type]
            "Eligible customers with a new checkout order on days 1..N / eligible customers, by "
            "cohort and front-end product.",
            (GROUPS,),
        ),
        Mart(
            "time_between_purchases",
            ("account", "from_order", "days_between"),
            lambda as_of: purchase_gaps_sql(as_of, GAPS),  # type: ignore[arg-type]
            "How many customers waited how many days from their order k to order k+1; the "
            "median days per k are read from it.",
            (GAPS,),
        ),
    ]
}
assert {m.name for m in MARTS.values() if m.per_customer} == set(CONSUMERS)


@contextmanager
def _narrowed_to_changed(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Within: `customers` and `transactions` read only the changed customers' rows (temporary
    views of the same names, as the model's admitted inputs do)."""
    database = conn.execute("SELECT current_database()").fetchall()[0][0]
    try:
        for table in CUSTOMER_SOURCES:
            conn.execute(
                f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM "
                f'"{database}".main.{table} t SEMI JOIN {CHANGED_CUSTOMERS} c '
                "ON t.account = c.account AND t.customer_key = c.customer_key"
            )
        yield
    finally:
        for table in CUSTOMER_SOURCES:
            conn.execute(f"DROP VIEW IF EXISTS temp.main.{table}")


# The data's as-of day when each per-customer mart last caught up: the marts built on it use
# that day, since the data may have grown since (a webhook run between two mart steps) while
# the customers' rows stop where the model stopped.
AS_OF_TABLE = "per_customer_marts_as_of"


def _record_as_of(conn: duckdb.DuckDBPyConnection, mart: Mart, day: dt.date | None = None) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {AS_OF_TABLE} (mart VARCHAR PRIMARY KEY, as_of_day DATE)"
    )
    conn.execute(
        f"INSERT OR REPLACE INTO {AS_OF_TABLE} VALUES (?, ?)",
        [mart.name, resolve_as_of(conn, day)],
    )


def _per_customer_deps(mart: Mart) -> set[str]:
    found = {name for name in mart.deps if MARTS[name].per_customer}
    for name in mart.deps:
        found |= _per_customer_deps(MARTS[name])
    return found


def mart_as_of(conn: duckdb.DuckDBPyConnection, mart: Mart, chosen: dt.date | None) -> dt.date:
    """The user's day if set; for a mart built on per-customer marts, the day they were last
    brought up to (the earliest, if they differ); otherwise the data's day."""
    deps = _per_customer_deps(mart)
    if chosen is None and deps and table_exists(conn, AS_OF_TABLE):
        names = ", ".join(f"'{name}'" for name in deps)
        stored = conn.execute(
            f"SELECT min(as_of_day) FROM {AS_OF_TABLE} WHERE mart IN ({names})"
        ).fetchall()[0][0]
        if stored is not None:
            return stored
    return resolve_as_of(conn, chosen)


def update_per_customer_mart(conn: duckdb.DuckDBPyConnection, mart: Mart) -> PendingChanges:
    """Catch up with the model: replace the changed customers' rows, or rebuild whole when the
    model rebuilt whole (or this mart is new). One transaction with the applied mark, so a
    kill at any point leaves either the old rows and mark or the new ones."""
    with one_transaction(conn):
        _record_as_of(conn, mart)
        pending = pending_changes(conn, mart.name)
        if pending.everything or not table_exists(conn, mart.name):
            conn.execute(f"CREATE OR REPLACE TABLE main.{mart.name} AS {mart.sql(None)}")
        elif pending.customers:
            conn.execute(
                f"DELETE FROM main.{mart.name} t USING {CHANGED_CUSTOMERS} c "
                "WHERE t.account = c.account AND t.customer_key = c.customer_key"
            )
            with _narrowed_to_changed(conn):
                conn.execute(f"INSERT INTO main.{mart.name} BY NAME {mart.sql(None)}")
        mark_applied(conn, mart.name, pending.up_to)
    return pending


def build_mart(conn: duckdb.DuckDBPyConnection, mart: Mart, as_of: dt.date | None = None) -> int:
    """Bring one mart up to date (a per-customer mart incrementally); with a chosen as-of day,
    build it for that day instead (a per-customer mart then rebuilds whole, and its next
    update does too, since its rows no longer match the log)."""
    for_large_rebuilds(conn)
    if mart.per_customer and as_of is None:
        update_per_customer_mart(conn, mart)
    elif mart.per_customer:
        with one_transaction(conn):
            conn.execute(f"CREATE OR REPLACE TABLE main.{mart.name} AS {mart.sql(as_of)}")
            forget_applied(conn, mart.name)
            _record_as_of(conn, mart, as_of)
    else:
        day = mart_as_of(conn, mart, as_of)
        conn.execute(f"CREATE OR REPLACE TABLE main.{mart.name} AS {mart.sql(day)}")
    return conn.execute(f"SELECT count(*) FROM main.{mart.name}").fetchall()[0][0]


def build_marts(conn: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> None:
    for mart in MARTS.values():
        build_mart(conn, mart, as_of)


def _needed(names: tuple[str, ...]) -> list[Mart]:
    """The marts `names` read, with what they aggregate, in build order."""
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(MARTS[name].deps)
    return [mart for mart in MARTS.values() if mart.name in wanted]


@contextmanager
def marts_as_of(
    conn: duckdb.DuckDBPyConnection, names: tuple[str, ...], as_of: dt.date
) -> Iterator[None]:
    """Within: the marts `names` (and those they aggregate) read as of a chosen day, built by
    the same definitions into temporary tables of the same names; the stored marts are left
    as they are."""
    built: list[str] = []
    try:
        for mart in _needed(names):
            conn.execute(f"CREATE OR REPLACE TEMP TABLE {mart.name} AS {mart.sql(as_of)}")
            built.append(mart.name)
        yield
    finally:
        for name in built:
            conn.execute(f"DROP TABLE IF EXISTS temp.main.{name}")
