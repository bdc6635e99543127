"""Building a report's rows: the marts' rows by report, basis, period, cohort start, account and
as-of day.

Reports compute nothing: they read the mart tables (defs/marts/build.py) in every variant the
marts hold (net/gross, month/week/day cohorts, both cohort starts, each account) and add the
accounts' stored sums together when all accounts are asked for. A past as-of day, which no
stored mart holds, is answered by the same mart definitions built for that day on request
(marts_as_of), and the labels say so. `ltv report` prints these rows and the published
snapshot stores them for the report page.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from decimal import Decimal
from typing import Any

import duckdb

from ltv_core.settings import DEFAULT_CUSTOMER_KEY_RULE
from ltv_pipeline.defs.marts.build import MARTS, marts_as_of
from ltv_pipeline.metrics.as_of import resolve_as_of
from ltv_pipeline.metrics.customer_key import built_customer_key_rules
from ltv_pipeline.metrics.definitions import DEFAULT_BASIS, POOLED_MIN_ELIGIBLE, MetricOptions
from ltv_pipeline.metrics.ltv_table import ELIGIBLE_COLUMNS, HORIZON_COLUMNS, ltv_table
from ltv_pipeline.metrics.payment_plans import plan_summary_sql
from ltv_pipeline.metrics.refund_rates import PRODUCT_DIMENSION, cohort_dimension, rates_sql
from ltv_pipeline.metrics.subscription_metrics import derived_rates_sql
from ltv_pipeline.metrics.time_between_purchases import median_days_sql
from ltv_pipeline.reports.projected import (
    model_fits,
    projected_cells,
    projection_error,
    projection_labels,
    with_projections,
)

REPORTS = (
    "overview",
    "cohort-ltv",
    "front-end-products",
    "payment-plans",
    "subscriptions",
    "refunds",
    "purchase-intervals",
)
# The accounts a report can be narrowed to: those with at least one customer.
ACCOUNTS_SQL = "SELECT DISTINCT account FROM customers ORDER BY account"
MODEL_TABLES = ("customers", "transactions", "subscriptions", "declined_charges")
# The marts each report reads; the first one's as-of day is the report's. A past as-of day
# builds all of them for that day (the overview's figures come from four marts).
REPORT_MARTS = {
    "overview": (
        "ltv_all_customers",
        "repeat_purchase_rates",
        "refund_rates",
        "subscription_metrics",
    ),
    "cohort-ltv": ("cohort_ltv",),
    "front-end-products": ("ltv_by_front_end_product",),
    "payment-plans": ("payment_plans",),
    "subscriptions": ("subscription_metrics",),
    "refunds": ("refund_rates",),
    "purchase-intervals": ("time_between_purchases",),
}


class ReportError(RuntimeError):
    """The warehouse cannot answer yet (no model built), said in words a user can act on."""


class UnknownAccount(ReportError):
    """--account names no account in the data: a typo, not an empty report."""


def known_accounts(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The accounts a report can be narrowed to (the same list the report page offers)."""
    return [account for (account,) in conn.execute(ACCOUNTS_SQL).fetchall()]


def _money(value: Any) -> str:
    return "" if value is None else f"{Decimal(value):.2f}"


def _rate(value: Any) -> str:
    return "" if value is None else f"{float(value):.4f}"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _cohort_rows(conn, options, basis, account, report) -> tuple[list[str], list[list]]:
    start = f"cohort_start = {_literal(options.cohort_start)}"
    if report == "cohort-ltv":
        source = (
            f"SELECT *, cohort AS group_key, cohort AS group_name FROM cohort_ltv "
            f"WHERE {start} AND period = {_literal(options.period)}"
        )
    else:
        source = (
            "SELECT *, product_id AS group_key, product_name AS group_name "
            f"FROM ltv_by_front_end_product WHERE {start}"
        )
    pooled = report != "cohort-ltv"
    rows = ltv_table(conn, source, basis, account, pooled=pooled)
    if report == "cohort-ltv":
        columns = ["cohort", "customers", *HORIZON_COLUMNS]
        lead = [[r["group_key"], r["customers"]] for r in rows]
    else:
        columns = ["product_id", "product_name", "customers", *HORIZON_COLUMNS]
        lead = [[r["group_key"], r["group_name"], r["customers"]] for r in rows]
    # A pooled cell says over how many customers it averages.
    counts = ELIGIBLE_COLUMNS if pooled else []
    return [*columns, *counts], [
        head + [_money(r[c]) for c in HORIZON_COLUMNS] + [r[c] for c in counts]
        for head, r in zip(lead, rows, strict=True)
    ]


def _sum(conn, sql: str, params: dict) -> Any:
    return conn.execute(sql, params).fetchall()[0][0]


def _overview(conn, options, account) -> tuple[list[str], list[list]]:
    """The headline figures, one row: the pooled all-customers curve, and sums of the other
    marts' rows (never an average of averages)."""
    where = f"cohort_start = {_literal(options.cohort_start)}"
    params = {"account": account} if account else {}
    if account:
        where += " AND account = $account"
    source = (
        "SELECT *, 'all' AS group_key, 'All customers' AS group_name FROM ltv_all_customers "
        f"WHERE cohort_start = {_literal(options.cohort_start)}"
    )
    curve = ltv_table(conn, source, "net", account, pooled=True)
    line = curve[0] if curve else {"customers": 0}
    revenue = conn.execute(
        "SELECT coalesce(sum(net_revenue), 0), coalesce(sum(gross_revenue), 0) "
        f"FROM ltv_all_customers WHERE {where} AND horizon = 'all'",
        params,
    ).fetchall()[0]
    cohort = cohort_dimension("month")
    repeat_rate = _sum(
        conn,
        "SELECT round(sum(repeat_customers) / nullif(sum(customers), 0), 4) "
        f"FROM repeat_purchase_rates WHERE {where} AND dimension = '{cohort}' "
        "AND horizon = 'all'",
        params,
    )
    refund_rate = _sum(
        conn,
        "SELECT round(sum(refunded_amount) / nullif(sum(gross_charged), 0), 4) "
        f"FROM refund_rates WHERE {where} AND dimension = '{cohort}'",
        params,
    )
    by_account = "WHERE account = $account" if account else ""
    subscribers, mrr = conn.execute(
        "SELECT coalesce(sum(active_subscribers), 0), coalesce(sum(mrr), 0) "
        f"FROM subscription_metrics {by_account}",
        params,
    ).fetchall()[0]
    columns = [
        "customers",
        "net_revenue",
        "gross_revenue",
        *HORIZON_COLUMNS,
        *ELIGIBLE_COLUMNS,
        "repeat_rate",
        "refund_rate",
        "active_subscribers",
        "mrr",
    ]
    row = [
        line["customers"],
        _money(revenue[0]),
        _money(revenue[1]),
        *[_money(line.get(c)) for c in HORIZON_COLUMNS],
        *[line.get(c, 0) for c in ELIGIBLE_COLUMNS],
        _rate(repeat_rate),
        _rate(refund_rate),
        subscribers,
        _money(mrr),
    ]
    return columns, [row]


def _filtered(table: str, account: str | None) -> tuple[str, dict]:
    if account:
        return f"SELECT * FROM {table} WHERE account = $account", {"account": account}
    return f"SELECT * FROM {table}", {}


def _query(conn, sql: str, params: dict) -> tuple[list[str], list[list]]:
    cursor = conn.execute(sql, params)
    return [d[0] for d in cursor.description], [list(r) for r in cursor.fetchall()]


def _payment_plans(conn, account) -> tuple[list[str], list[list]]:
    plans, params = _filtered("payment_plans", account)
    columns, rows = _query(conn, plan_summary_sql(f"({plans})", "product_id, product_name"), params)
    _, total = _query(conn, plan_summary_sql(f"({plans})", None), params)
    rows += [r for r in total if r[2]]
    return columns, [
        [r[0], r[1], *r[2:4], *[_money(v) for v in r[4:7]], *r[7:9], *[_rate(v) for v in r[9:]]]
        for r in rows
    ]


def _subscriptions(conn, account) -> tuple[list[str], list[list]]:
    base, params = _filtered("subscription_metrics", account)
    sums = (
        "sum(active_subscribers) AS active_subscribers, "
        "sum(active_subscriptions) AS active_subscriptions, sum(mrr) AS mrr, "
        "sum(subscribers_at_window_start) AS subscribers_at_window_start, "
        "sum(churned_subscribers) AS churned_subscribers"
    )
    columns, rows = _query(
        conn,
        f"SELECT *, {derived_rates_sql()} FROM (SELECT {sums} FROM ({base}))",
        params,
    )
    return columns, [
        [*r[0:2], _money(r[2]), *r[3:5], _money(r[5]), _rate(r[6]), _money(r[7]), r[8]]
        for r in rows
    ]


def _refunds(conn, options, account) -> tuple[list[str], list[list]]:
    base, params = _filtered("refund_rates", account)
    cohort = cohort_dimension(options.period)
    columns, rows = _query(
        conn,
        f"""SELECT dimension, group_key, group_name, gross_charged, refunded_amount,
                refund_rate_amount, orders, refunded_orders, refund_rate_orders
            FROM (SELECT *, {rates_sql()} FROM (
                SELECT CASE dimension WHEN '{cohort}' THEN 'cohort' ELSE dimension END
                        AS dimension,
                    group_key, min(group_name) AS group_name,
                    sum(gross_charged) AS gross_charged, sum(refunded_amount) AS refunded_amount,
                    sum(orders) AS orders, sum(refunded_orders) AS refunded_orders
                FROM ({base}) WHERE cohort_start = {_literal(options.cohort_start)}
                  AND dimension IN ('{cohort}', '{PRODUCT_DIMENSION}')
                GROUP BY ALL))
            ORDER BY dimension, group_key""",
        params,
    )
    return columns, [
        [*r[0:3], _money(r[3]), _money(r[4]), _rate(r[5]), r[6], r[7], _rate(r[8])] for r in rows
    ]


def _purchase_intervals(conn, account) -> tuple[list[str], list[list]]:
    gaps, params = _filtered("time_between_purchases", account)
    columns, rows = _query(conn, median_days_sql(gaps), params)
    return columns, [[k, n, f"{float(median):.1f}"] for k, n, median in rows]


def stored_as_of(conn: duckdb.DuckDBPyConnection, report: str) -> dt.date | None:
    """The as-of day the report's mart was built for (None: it holds no rows)."""
    mart = REPORT_MARTS[report][0]
    return conn.execute(f"SELECT max(as_of_day) FROM {mart}").fetchall()[0][0]


def _customer_key_rule(conn: duckdb.DuckDBPyConnection) -> str:
    """The rule the model was built with (LTV_CUSTOMER_KEY), as stored with the customers."""
    return ", ".join(sorted(built_customer_key_rules(conn))) or DEFAULT_CUSTOMER_KEY_RULE


def build_report(
    conn: duckdb.DuckDBPyConnection,
    report: str,
    *,
    account: str | None = None,
    basis: str = DEFAULT_BASIS,
    options: MetricOptions | None = None,
    projected: bool = False,
) -> tuple[list[str], list[list], list[str]]:
    """(columns, rows as display text, labels saying which definitions were used).
    `projected` (cohort-ltv, net basis only) adds the projected columns (reports/projected.py)."""
    if projected and (why := projection_error(report, basis)):
        raise ReportError(why)
    present = {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    missing = [t for t in MODEL_TABLES if t not in present]
    if missing:
        raise ReportError(
            f"the unified model is not built yet (missing {', '.join(missing)}): "
            "run `ltv materialize` first"
        )
    missing = [m for m in MARTS if m not in present]
    if missing:
        raise ReportError(
            f"the marts are not built yet (missing {', '.join(missing)}): "
            "run `ltv materialize` first"
        )
    if account is not None:
        known = known_accounts(conn)
        if account not in known:
            raise UnknownAccount(
                f"unknown account {account!r}; known: {', '.join(known) or '(none yet)'}"
            )
    options = options or MetricOptions()
    stored = stored_as_of(conn, report)
    on_request = options.as_of is not None and options.as_of != stored
    as_of = options.as_of or stored or resolve_as_of(conn, None)
    data_day = resolve_as_of(conn, None)
    behind = options.as_of is None and stored is not None and stored < data_day
    labels = [
        f"as of {as_of.isoformat()}"
        + ("" if options.as_of or behind else " (latest day in the data)"),
        f"account: {account or 'all accounts'}",
        f"customer key: {_customer_key_rule(conn)}",
    ]
    if behind:
        labels.append(
            f"the marts are as of {as_of.isoformat()}; data up to {data_day.isoformat()} is "
            "not in them yet: run `ltv materialize`"
        )
    if on_request:
        labels.append(
            "computed on request for this as-of day by the marts' definitions "
            f"(the stored marts are as of {stored.isoformat() if stored else 'no day yet'})"
        )
    with marts_as_of(conn, REPORT_MARTS[report], as_of) if on_request else nullcontext():
        if report == "overview":
            columns, rows = _overview(conn, options, account)
            labels += [
                f"cohort starts at: {options.cohort_start.replace('_', ' ')}",
                "ltv_*: net value per customer of all customers together, over those at least "
                f"that many days past their first purchase (empty when fewer than "
                f"{POOLED_MIN_ELIGIBLE}); eligible_*: how many they are",
                "repeat_rate: customers with a second order on a later day / customers; "
                "refund_rate: refunded amount / gross charged; mrr and active_subscribers: "
                "recurring subscriptions",
            ]
        elif report in ("cohort-ltv", "front-end-products"):
            columns, rows = _cohort_rows(conn, options, basis, account, report)
            labels += [
                f"basis: {basis}",
                f"cohort period: {options.period}",
                f"cohort starts at: {options.cohort_start.replace('_', ' ')}",
                "empty cell: right-censored (not every customer is that many days past the "
                "first purchase yet)"
                if report == "cohort-ltv"
                else "pooled: a cell averages over the customers at least that many days past "
                f"their first purchase (eligible_*), and is empty when fewer than "
                f"{POOLED_MIN_ELIGIBLE} are",
            ]
            if projected:
                cells = (
                    {}
                    if on_request
                    else projected_cells(conn, options.cohort_start, options.period, account)
                )
                columns, rows = with_projections(columns, rows, cells)
                labels += projection_labels(model_fits(conn, account), on_request)
        elif report == "payment-plans":
            columns, rows = _payment_plans(conn, account)
        elif report == "subscriptions":
            columns, rows = _subscriptions(conn, account)
            labels.append("formula_ltv is a formula (ARPA / 30-day churn), not observed LTV")
        elif report == "purchase-intervals":
            columns, rows = _purchase_intervals(conn, account)
            labels.append(
                "median days from a customer's order k to order k+1, over customers "
                "who placed order k+1"
            )
        else:
            columns, rows = _refunds(conn, options, account)
            labels.append(f"cohort period: {options.period}")
    return columns, rows, labels
