"""`cohort_ltv_projected`: a value for each right-censored cell of the `cohort_ltv` mart, kept
apart from the observed cells (a projection is never mixed into the mart itself).

A censored day-N cell is one whose youngest customers are not yet N days old. Its projection is
the mean over all its customers of: what they were observed to be worth by day N when they are
at least N days old; otherwise what they have been worth to date plus their expected value
over the days they still have to reach day N (BG/NBD purchases x Gamma-Gamma spend, from their
account's stored fit). So the part already known stays known, and only the future is modelled.
The "all time" cell has no horizon to project to and is left out.

A customer's summary (frequency, recency, T, monetary) is read from `predicted_customer_ltv`,
which stores the summaries the fit was made on: the warehouse is not asked for them again. So
those predictions must be of the stored fit; when they are not (made from an earlier fit, or by
an earlier version), the projection stops and says so rather than mix two fits.
"""

from __future__ import annotations

import numpy as np

from ltv_pipeline.lib.transaction import one_transaction
from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.day_groups import START_COLUMNS
from ltv_pipeline.metrics.definitions import HORIZONS, PERIODS, cohort_label_sql
from ltv_pipeline.metrics.predictive.account_fits import AccountFit
from ltv_pipeline.metrics.predictive.expected_value import expected_value
from ltv_pipeline.metrics.predictive.table_write import arrow_table
from ltv_pipeline.metrics.predictive.tables import (
    FITS_TABLE,
    PREDICTIONS_TABLE,
    PROJECTED_COLUMNS,
    PROJECTED_TABLE,
)

MATERIALIZE_FIRST = f"materialize {PREDICTIONS_TABLE}, then {PROJECTED_TABLE}"
FINITE_HORIZONS = tuple((h, d) for h, d in HORIZONS if d is not None)


def _members_sql() -> str:
    """(account, customer_key, cohort_start, start_day, net_<h> per finite horizon, net_to_date)
    for both cohort starts, from the customer_ltv mart (its columns per start)."""
    parts = []
    for cohort_start, (start, _, prefix) in START_COLUMNS.items():
        nets = ", ".join(f"{prefix}net_{h} AS net_{h}" for h, _ in FINITE_HORIZONS)
        parts.append(
            f"SELECT account, customer_key, '{cohort_start}' AS cohort_start, "
            f"{start} AS start_day, {nets}, net_all AS net_to_date "
            f"FROM customer_ltv WHERE {start} IS NOT NULL"
        )
    return " UNION ALL ".join(parts)


def cell_members_sql() -> str:
    """One row per censored finite cell of cohort_ltv and customer of that cohort: what they
    were observed to be worth (`observed`) and the days still to model (`remaining`, 0 when
    they are at least the horizon's days old).

    Each member is labelled with their cohort in each period first, so that cells and members
    meet on equal keys: matched on the label computed inside the join, every cell of an
    account was compared with every customer (17 s for 200,000 customers, and the query runs
    twice)."""
    labels = " ".join(f"WHEN '{p}' THEN {cohort_label_sql(p, 'm.start_day')}" for p in PERIODS)
    observed_by_horizon = " ".join(f"WHEN '{h}' THEN m.net_{h}" for h, _ in FINITE_HORIZONS)
    return f"""
    WITH cells AS (
        SELECT account, cohort_start, period, cohort, horizon, horizon_days, as_of_day
        FROM cohort_ltv WHERE censored AND horizon_days IS NOT NULL
    ), members AS ({_members_sql()}),
    labelled AS (
        SELECT m.*, p.period, CASE p.period {labels} END AS cohort
        FROM members m, (SELECT DISTINCT period FROM cells) p
    )
    SELECT c.account, c.cohort_start, c.period, c.cohort, c.horizon, m.customer_key,
        CASE WHEN date_diff('day', m.start_day, c.as_of_day) >= c.horizon_days
             THEN CASE c.horizon {observed_by_horizon} END
             ELSE m.net_to_date END AS observed,
        greatest(c.horizon_days - date_diff('day', m.start_day, c.as_of_day), 0) AS remaining
    FROM cells c JOIN labelled m
      ON m.account = c.account AND m.cohort_start = c.cohort_start AND m.period = c.period
     AND m.cohort = c.cohort"""


def check_predictions_are_of(conn, fits: list[AccountFit]) -> None:
    """Raise, saying what to do, unless predicted_customer_ltv was made from these fits (each
    reliable one) by this version."""
    columns = {
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND table_name = ?",
            [PREDICTIONS_TABLE],
        ).fetchall()
    }
    if not columns:
        raise ValueError(f"{PREDICTIONS_TABLE} is not built yet: {MATERIALIZE_FIRST}")
    if "monetary" not in columns:
        raise ValueError(
            f"{PREDICTIONS_TABLE} was made by an earlier version (it has no monetary column, "
            f"which the projection reads): {MATERIALIZE_FIRST}"
        )
    made_from: dict[str, set] = {}
    for account, fitted_at in conn.execute(
        f"SELECT DISTINCT account, fitted_at FROM {PREDICTIONS_TABLE}"
    ).fetchall():
        made_from.setdefault(account, set()).add(fitted_at)
    for fit in fits:
        if fit.reliable and made_from.get(fit.account) != {fit.fitted_at}:
            times = ", ".join(sorted(str(t) for t in made_from.get(fit.account, ()))) or "none"
            raise ValueError(
                f"{PREDICTIONS_TABLE} of account {fit.account!r} was made from the fit of "
                f"{times}, not from the stored fit of {fit.fitted_at} in {FITS_TABLE}: "
                f"{MATERIALIZE_FIRST}"
            )


def _expected_values(conn, fits: list[AccountFit]) -> dict:
    """The expected value of each (customer, remaining days) the censored cells need, from the
    customer's summary at the fit's calibration end, as predicted_customer_ltv stores it (a
    customer with no purchase occasion in the summaries, e.g. one known only by a rebill, is
    scored as a new customer: x = 0)."""
    reliable = [f for f in fits if f.reliable]
    empty = {"account": [], "customer_key": [], "remaining": [], "expected": []}
    if not reliable:
        return empty
    check_predictions_are_of(conn, reliable)
    end = reliable[0].calibration_end
    accounts = ", ".join(f"'{f.account.replace(chr(39), chr(39) * 2)}'" for f in reliable)
    needed = conn.execute(f"""
        WITH needed AS (
            SELECT DISTINCT account, customer_key, remaining FROM ({cell_members_sql()})
            WHERE remaining > 0 AND account IN ({accounts})
        ), summaries AS (
            SELECT account, customer_key, frequency AS x, recency AS t_x, "T", monetary AS m_x
            FROM {PREDICTIONS_TABLE}
        )
        SELECT n.account, n.customer_key, n.remaining,
            coalesce(s.x, 0) AS x, coalesce(s.t_x, 0) AS t_x,
            coalesce(s."T", greatest(date_diff('day', c.first_purchase_day, {day_literal(end)}), 0))
                AS "T",
            coalesce(s.m_x, 0) AS m_x
        FROM needed n
        LEFT JOIN summaries s ON s.account = n.account AND s.customer_key = n.customer_key
        LEFT JOIN customer_ltv c ON c.account = n.account AND c.customer_key = n.customer_key
        ORDER BY n.account""").fetchnumpy()
    expected = np.zeros(len(needed["account"]))
    accounts_column = np.asarray(needed["account"], dtype=object)
    for fit in reliable:
        rows = accounts_column == fit.account
        if rows.any():
            x, t_x, T, m_x, remaining = (
                np.asarray(needed[c], dtype=float)[rows]
                for c in ("x", "t_x", "T", "m_x", "remaining")
            )
            expected[rows] = expected_value(fit.bgnbd, fit.gamma_gamma, remaining, x, t_x, T, m_x)
    return {
        "account": needed["account"],
        "customer_key": needed["customer_key"],
        "remaining": needed["remaining"],
        "expected": expected,
    }


def build_cohort_projection(conn, fits: list[AccountFit]) -> int:
    """Replace the table with a row per censored finite cell, in one transaction; returns the
    rows written. Reliability and fit time come from the stored fits table."""
    view = "_projection_expected_values"
    conn.register(view, arrow_table(_expected_values(conn, fits)))
    try:
        with one_transaction(conn):
            conn.execute(f"CREATE OR REPLACE TABLE main.{PROJECTED_TABLE} ({PROJECTED_COLUMNS})")
            conn.execute(f"""
                INSERT INTO main.{PROJECTED_TABLE}
                SELECT m.account, m.cohort_start, m.period, m.cohort, m.horizon,
                    CASE WHEN any_value(f.reliable)
                         THEN round(avg(m.observed + coalesce(e.expected, 0)), 2) END,
                    count(*), any_value(f.fitted_at), coalesce(any_value(f.reliable), false)
                FROM ({cell_members_sql()}) m
                LEFT JOIN {view} e ON e.account = m.account
                    AND e.customer_key = m.customer_key AND e.remaining = m.remaining
                LEFT JOIN {FITS_TABLE} f ON f.account = m.account
                GROUP BY m.account, m.cohort_start, m.period, m.cohort, m.horizon
                ORDER BY ALL""")
    finally:
        conn.unregister(view)
    return conn.execute(f"SELECT count(*) FROM main.{PROJECTED_TABLE}").fetchall()[0][0]
