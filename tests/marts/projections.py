"""The predictive assets' two tables, created and filled by plain SQL in a real warehouse, so the
reading side (`ltv report --projected`, the snapshot, the page) is tested on their exact shape
(the columns the assets write them with, from tables.py)."""

from __future__ import annotations

import duckdb

from ltv_pipeline.metrics.predictive.tables import (
    FIT_PARAMETERS,
    FITS_COLUMNS,
    FITS_TABLE,
    PROJECTED_COLUMNS,
    PROJECTED_TABLE,
)

FITS_DDL = f"CREATE TABLE IF NOT EXISTS {FITS_TABLE} ({FITS_COLUMNS})"
PROJECTED_DDL = f"CREATE TABLE IF NOT EXISTS {PROJECTED_TABLE} ({PROJECTED_COLUMNS})"
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
    values = (0.24, 4.4, 0.79, 2.4, -9582.4, 6.25, 3.74, 15.44)
    params = dict(zip(FIT_PARAMETERS, values, strict=True)) if reliable else {}
    conn.execute(
        f"INSERT INTO {FITS_TABLE} BY NAME SELECT $account AS account, "
        "CAST($fitted_at AS TIMESTAMP) AS fitted_at, CAST($end AS DATE) AS calibration_end, "
        "'day' AS time_unit, 100 AS customers, 40 AS repeat_customers, $reliable AS reliable, "
        "$reason AS reason, "
        + ", ".join(f"CAST(${name} AS DOUBLE) AS {name}" for name in FIT_PARAMETERS),
        {
            "account": account,
            "fitted_at": FITTED_AT,
            "end": calibration_end,
            "reliable": reliable,
            "reason": reason,
            **{name: params.get(name) for name in FIT_PARAMETERS},
        },
    )


def add_projections(
    conn: duckdb.DuckDBPyConnection, account: str, value_sql: str, *, reliable: bool = True
) -> None:
    """A projection for every censored cell of `account` in the cohort_ltv mart; `value_sql` is
    the projected value over the mart's columns (NULL when the fit is not reliable)."""
    conn.execute(PROJECTED_DDL)
    value = value_sql if reliable else "NULL"
    conn.execute(
        f"""INSERT INTO {PROJECTED_TABLE}
            SELECT account, cohort_start, period, cohort, horizon,
                CAST({value} AS DECIMAL(18, 2)), customers, TIMESTAMP '{FITTED_AT}', {reliable}
            FROM cohort_ltv WHERE account = ? AND censored""",
        [account],
    )
