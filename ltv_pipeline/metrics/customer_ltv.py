"""Per customer: what each member of a cohort has been worth, in total and within each horizon.

This is the base every cohort metric aggregates (LTV curves, repeat purchases, refunds by
cohort): Day-N sums are each customer's transactions on days 0..N after their first purchase
day (refunds included for net, charges only for gross). Both cohort starts are in one row (the
first order's day, and the first paid order's day with the `paid_` columns), so one pass over
the transactions serves both.

With no as-of day the sums cover every transaction in the model: a row then depends on its
own customer's transactions only, which is what lets the mart keep it until that customer
changes (the as-of day moves only the eligibility, applied when the rows are grouped). With a
past as-of day (a report asked for one) later transactions and later customers are left out.
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.definitions import HORIZONS, cohort_label_sql

# The `paid_` sums of the all-time horizon equal the first order's: every transaction counts.
PAID_HORIZONS = tuple(h for h in HORIZONS if h[1] is not None)


def _window(start: str, days: int | None) -> str:
    return "true" if days is None else f"t.transaction_day <= m.{start} + {days}"


def _dollars(cents: str) -> str:
    """Sums run over whole cents (BIGINT), which DuckDB adds far faster than DECIMAL(38,2);
    the result is the same exact amount, back in dollars."""
    return f"CAST(coalesce({cents}, 0) * 0.01 AS DECIMAL(38, 2))"


def _horizon_sums(start: str, prefix: str, horizons) -> str:
    return ", ".join(
        f"{_dollars(f'sum(t.cents) FILTER (WHERE {_window(start, d)})')} AS {prefix}net_{h}, "
        f"{_dollars(f'sum(t.cents) FILTER (WHERE {_window(start, d)} AND t.cents > 0)')} "
        f"AS {prefix}gross_{h}"
        for h, d in horizons
    )


def _until(column: str, as_of: dt.date | None) -> str:
    return "true" if as_of is None else f"{column} <= {day_literal(as_of)}"


def members_sql(as_of: dt.date | None) -> str:
    """(account, customer_key, start_first, start_paid, product) of the customers whose cohort
    has started by the as-of day. Membership never changes, even if the first order is later
    refunded; with the first-paid-order start a customer joins at the first order > $0."""
    paid = "first_paid_purchase_day"
    return f"""
    SELECT account, customer_key, first_purchase_day AS start_first,
        CASE WHEN {_until(paid, as_of)} THEN {paid} END AS start_paid,
        coalesce(front_end_product_id, '(none)') AS product_id,
        coalesce(front_end_product_name, '(no order)') AS product_name
    FROM customers
    WHERE first_purchase_day IS NOT NULL AND {_until("first_purchase_day", as_of)}"""


def customer_ltv_sql(as_of: dt.date | None = None) -> str:
    """One row per customer of `customers`, from `transactions` (tables or views of that name:
    the mart narrows them to the changed customers)."""
    until = _until("transaction_day", as_of)
    return f"""
    WITH members AS ({members_sql(as_of)}),
    events AS (
        SELECT account, customer_key, transaction_day, kind,
            CAST(amount * 100 AS BIGINT) AS cents
        FROM transactions WHERE {until}
    ), order_counts AS (
        -- Distinct orders counted apart: one DISTINCT pass, rather than a list per customer.
        SELECT account, customer_key, count(*) FILTER (WHERE kind = 'order_line') AS orders,
            count(*) FILTER (WHERE kind = 'refund') AS refunded_orders
        FROM (SELECT DISTINCT account, customer_key, kind, order_id FROM transactions
              WHERE kind IN ('order_line', 'refund') AND order_id IS NOT NULL AND {until})
        GROUP BY account, customer_key
    ), per_customer AS (
        SELECT m.account, m.customer_key,
            any_value(m.start_first) AS first_purchase_day,
            any_value(m.start_paid) AS first_paid_purchase_day,
            max(t.transaction_day) FILTER (WHERE t.cents > 0) AS last_purchase_day,
            any_value(m.product_id) AS front_end_product_id,
            any_value(m.product_name) AS front_end_product_name,
            count(*) FILTER (WHERE t.kind IN ('subscription_rebill', 'plan_installment'))
                AS recurring_charges,
            -{_dollars("sum(t.cents) FILTER (WHERE t.kind = 'refund')")} AS refunds,
            min(t.transaction_day) FILTER (
                WHERE t.kind = 'order_line' AND t.transaction_day > m.start_first)
                AS first_repeat_day,
            min(t.transaction_day) FILTER (
                WHERE t.kind = 'order_line' AND t.transaction_day > m.start_paid)
                AS paid_first_repeat_day,
            {_horizon_sums("start_first", "", HORIZONS)},
            {_horizon_sums("start_paid", "paid_", PAID_HORIZONS)}
        FROM members m LEFT JOIN events t
          ON t.account = m.account AND t.customer_key = m.customer_key
        GROUP BY m.account, m.customer_key
    )
    SELECT p.account, p.customer_key, {cohort_label_sql("month", "p.first_purchase_day")} AS cohort,
        p.first_purchase_day, p.first_paid_purchase_day, p.last_purchase_day,
        p.front_end_product_id, p.front_end_product_name,
        coalesce(o.orders, 0) AS orders, p.recurring_charges,
        coalesce(o.refunded_orders, 0) AS refunded_orders, p.refunds, p.first_repeat_day,
        p.paid_first_repeat_day,
        p.* EXCLUDE (account, customer_key, first_purchase_day, first_paid_purchase_day,
                     last_purchase_day, front_end_product_id, front_end_product_name,
                     recurring_charges, refunds, first_repeat_day, paid_first_repeat_day)
    FROM per_customer p LEFT JOIN order_counts o
      ON p.account = o.account AND p.customer_key = o.customer_key"""


def customer_products_sql(as_of: dt.date | None = None) -> str:
    """Per customer and product of each line: gross charged, refunded, orders and refunded
    orders; the product side of the refund rates, kept per customer so that a change redoes
    only its customers' rows."""
    until = _until("t.transaction_day", as_of)
    return f"""
    SELECT t.account, t.customer_key, coalesce(t.product_id, '(none)') AS product_id,
        min(t.product_name) AS product_name,
        coalesce(sum(t.amount) FILTER (WHERE t.amount > 0), 0) AS gross_charged,
        coalesce(-sum(t.amount) FILTER (WHERE t.kind = 'refund'), 0) AS refunded_amount,
        -- each (order, product) has exactly one first occurrence: a distinct count, cheaply
        count(*) FILTER (WHERE t.kind = 'order_line' AND t.line_occurrence = 1) AS orders,
        count(DISTINCT CASE WHEN t.kind = 'refund' THEN t.order_id END) AS refunded_orders
    FROM transactions t SEMI JOIN ({members_sql(as_of)}) m
      ON t.account = m.account AND t.customer_key = m.customer_key
    WHERE {until}
    GROUP BY t.account, t.customer_key, coalesce(t.product_id, '(none)')"""
