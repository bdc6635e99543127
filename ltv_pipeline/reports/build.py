"""Building a report's rows: the marts' figures by report, basis, period, account and as-of day.

Each report runs the same metric SQL the marts are built from (ltv_pipeline.metrics), so any
choice of period, basis, cohort start and as-of day is answered exactly, not approximated from
a stored default. All accounts are summed unless an account is named. `ltv report` prints these
rows and the published snapshot stores them for the report page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb

from ltv_core.settings import DEFAULT_CUSTOMER_KEY_RULE
from ltv_pipeline.metrics.as_of import resolve_as_of
from ltv_pipeline.metrics.customer_key import built_customer_key_rules
from ltv_pipeline.metrics.customer_ltv import customer_ltv_sql
from ltv_pipeline.metrics.definitions import (
    DEFAULT_BASIS,
    MetricOptions,
)
from ltv_pipeline.metrics.ltv_curves import ltv_curves_sql
from ltv_pipeline.metrics.ltv_table import HORIZON_COLUMNS, ltv_table
from ltv_pipeline.metrics.payment_plans import payment_plans_sql, plan_summary_sql
from ltv_pipeline.metrics.refund_rates import rates_sql, refund_rates_sql
from ltv_pipeline.metrics.subscription_metrics import derived_rates_sql, subscription_metrics_sql
from ltv_pipeline.metrics.time_between_purchases import median_days_sql, purchase_gaps_sql

REPORTS = (
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


def _cohort_rows(conn, options, as_of, basis, account, grouping) -> tuple[list[str], list[list]]:
    customers = f"({customer_ltv_sql(options, as_of)})"
    rows = ltv_table(conn, ltv_curves_sql(options, as_of, grouping, customers), basis, account)
    if grouping == "cohort":
        columns = ["cohort", "customers", *HORIZON_COLUMNS]
        lead = [[r["group_key"], r["customers"]] for r in rows]
    else:
        columns = ["product_id", "product_name", "customers", *HORIZON_COLUMNS]
        lead = [[r["group_key"], r["group_name"], r["customers"]] for r in rows]
    return columns, [
        head + [_money(r[c]) for c in HORIZON_COLUMNS] for head, r in zip(lead, rows, strict=True)
    ]


def _filtered(sql: str, account: str | None) -> tuple[str, dict]:
    if account:
        return f"SELECT * FROM ({sql}) WHERE account = $account", {"account": account}
    return sql, {}


def _query(conn, sql: str, params: dict) -> tuple[list[str], list[list]]:
    cursor = conn.execute(sql, params)
    return [d[0] for d in cursor.description], [list(r) for r in cursor.fetchall()]


def _payment_plans(conn, as_of, account) -> tuple[list[str], list[list]]:
    plans, params = _filtered(payment_plans_sql(as_of), account)
    columns, rows = _query(conn, plan_summary_sql(f"({plans})", "product_id, product_name"), params)
    _, total = _query(conn, plan_summary_sql(f"({plans})", None), params)
    rows += [r for r in total if r[2]]
    return columns, [
        [r[0], r[1], *r[2:4], *[_money(v) for v in r[4:7]], *r[7:9], *[_rate(v) for v in r[9:]]]
        for r in rows
    ]


def _subscriptions(conn, as_of, account) -> tuple[list[str], list[list]]:
    base, params = _filtered(subscription_metrics_sql(as_of), account)
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


def _refunds(conn, options, as_of, account) -> tuple[list[str], list[list]]:
    base, params = _filtered(
        refund_rates_sql(options, as_of, f"({customer_ltv_sql(options, as_of)})"), account
    )
    columns, rows = _query(
        conn,
        f"""SELECT dimension, group_key, group_name, gross_charged, refunded_amount,
                refund_rate_amount, orders, refunded_orders, refund_rate_orders
            FROM (SELECT *, {rates_sql()} FROM (
                SELECT dimension, group_key, min(group_name) AS group_name,
                    sum(gross_charged) AS gross_charged, sum(refunded_amount) AS refunded_amount,
                    sum(orders) AS orders, sum(refunded_orders) AS refunded_orders
                FROM ({base}) GROUP BY dimension, group_key))
            ORDER BY dimension, group_key""",
        params,
    )
    return columns, [
        [*r[0:3], _money(r[3]), _money(r[4]), _rate(r[5]), r[6], r[7], _rate(r[8])] for r in rows
    ]


def _purchase_intervals(conn, as_of, account) -> tuple[list[str], list[list]]:
    gaps, params = _filtered(purchase_gaps_sql(as_of), account)
    columns, rows = _query(conn, median_days_sql(gaps), params)
    return columns, [[k, n, f"{float(median):.1f}"] for k, n, median in rows]


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
) -> tuple[list[str], list[list], list[str]]:
    """(columns, rows as display text, labels saying which definitions were used)."""
    present = {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    missing = [t for t in MODEL_TABLES if t not in present]
    if missing:
        raise ReportError(
            f"the unified model is not built yet (missing {', '.join(missing)}): "
            "run `ltv materialize` first"
        )
    if account is not None:
        known = known_accounts(conn)
        if account not in known:
            raise UnknownAccount(
                f"unknown account {account!r}; known: {', '.join(known) or '(none yet)'}"
            )
    options = options or MetricOptions()
    as_of = resolve_as_of(conn, options.as_of)
    labels = [
        f"as of {as_of.isoformat()}" + ("" if options.as_of else " (latest day in the data)"),
        f"account: {account or 'all accounts'}",
        f"customer key: {_customer_key_rule(conn)}",
    ]
    if report in ("cohort-ltv", "front-end-products"):
        grouping = "cohort" if report == "cohort-ltv" else "front_end_product"
        columns, rows = _cohort_rows(conn, options, as_of, basis, account, grouping)
        labels += [
            f"basis: {basis}",
            f"cohort period: {options.period}",
            f"cohort starts at: {options.cohort_start.replace('_', ' ')}",
            "empty cell: right-censored (not every customer is that many days past the "
            "first purchase yet)",
        ]
    elif report == "payment-plans":
        columns, rows = _payment_plans(conn, as_of, account)
    elif report == "subscriptions":
        columns, rows = _subscriptions(conn, as_of, account)
        labels.append("formula_ltv is a formula (ARPA / 30-day churn), not observed LTV")
    elif report == "purchase-intervals":
        columns, rows = _purchase_intervals(conn, as_of, account)
        labels.append(
            "median days from a customer's order k to order k+1, over customers "
            "who placed order k+1"
        )
    else:
        columns, rows = _refunds(conn, options, as_of, account)
        labels.append(f"cohort period: {options.period}")
    return columns, rows, labels
