"""The predictive assets' two tables, created and filled by plain SQL in a real warehouse, so the
reading side (`ltv report --projected`, the snapshot, the page) is tested on their exact shape."""

from __future__ import annotations

import duckdb

FITS_DDL = """CREATE TABLE IF NOT EXISTS ltv_model_fits (
    account VARCHAR, fitted_at TIMESTAMP, calibration_end DATE, time_unit VARCHAR,
    customers BIGINT, repeat_customers BIGINT, reliable BOOLEAN, reason VARCHAR,
    r DOUBLE, alpha DOUBLE, a DOUBLE, b DOUBLE, log_likelihood DOUBLE,
    p DOUBLE, q DOUBLE, gamma DOUBLE)"""
PROJECTED_DDL = """CREATE TABLE IF NOT EXISTS cohort_ltv_projected (
    account VARCHAR, cohort_start VARCHAR, period VARCHAR, cohort VARCHAR, horizon VARCHAR,
    projected_net_ltv DECIMAL(18, 2), customers BIGINT, fitted_at TIMESTAMP, reliable BOOLEAN)"""
FITTED_AT = "2024-04-15 03:00:00"


def add_fit(
    conn: duckdb.DuckDBPyConnection,
    account: str,
    *,
    reliable: bool = True,
    reason: str | None = None,
    calibration_end: str = "2024-04-14",
) -> None:
    conn.execute(FITS_DDL)
    params = (0.24, 4.4, 0.79, 2.4, -9582.4, 6.25, 3.74, 15.44) if reliable else (None,) * 8
    conn.execute(
        "INSERT INTO ltv_model_fits VALUES (?, ?, ?, 'day', 100, 40, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [account, FITTED_AT, calibration_end, reliable, reason, *params],
    )


def add_projections(
    conn: duckdb.DuckDBPyConnection, account: str, value_sql: str, *, reliable: bool = True
) -> None:
    """A projection for every censored cell of `account` in the cohort_ltv mart; `value_sql` is
    the projected value over the mart's columns (NULL when the fit is not reliable)."""
    conn.execute(PROJECTED_DDL)
    value = value_sql if reliable else "NULL"
    conn.execute(
        f"""INSERT INTO cohort_ltv_projected
            SELECT account, cohort_start, period, cohort, horizon,
                CAST({value} AS DECIMAL(18, 2)), customers, TIMESTAMP '{FITTED_AT}', {reliable}
            FROM cohort_ltv WHERE account = ? AND censored""",
        [account],
    )
