"""The fitted models per account, as the `ltv_model_fits` table stores them: one row per account,
fitted in days on every customer up to the data's latest day.

Per account, because a seller's customers are their own population: pooling two stores would
fit neither. One row carries both models, and `reliable` is true only when both are: a
customer's expected value needs the purchase model and the spend model, so a page that prints
one without the other would print half a number. When not reliable, every parameter is NULL
and `reason` says which model failed and why.

The customer summaries a fit was made on are stored beside it (`ltv_model_summaries`, written
in the same transaction): they are what `predicted_customer_ltv` scores, and asking the
warehouse for them once per refresh, not once per table made from the fit, saves the query's
seconds on a million customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np

from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from ltv_pipeline.metrics.predictive.summaries import summaries_sql
from ltv_pipeline.metrics.predictive.table_write import NewTable, write_tables
from ltv_pipeline.metrics.predictive.tables import (
    FIT_PARAMETERS,
    FITS_COLUMNS,
    FITS_TABLE,
    SUMMARIES_COLUMNS,
    SUMMARIES_TABLE,
)
from ltv_pipeline.warehouse.catalog import table_exists

TIME_UNIT = "day"
# The fits table's columns for (*bgnbd.PARAMETERS, "log_likelihood", *gamma_gamma.PARAMETERS).
PARAMETERS = FIT_PARAMETERS
SUMMARY_NAMES = ("account", "customer_key", "first_day", "x", "t_x", "T", "m_x")


@dataclass(frozen=True)
class AccountFit:
    account: str
    fitted_at: dt.datetime  # UTC, naive as DuckDB's TIMESTAMP holds it
    calibration_end: dt.date
    customers: int
    repeat_customers: int
    reliable: bool
    reason: str | None
    parameters: dict[str, float] | None  # PARAMETERS, when reliable

    @property
    def bgnbd(self) -> tuple[float, ...]:
        assert self.parameters is not None, f"the fit of {self.account!r} is not reliable"
        return tuple(self.parameters[n] for n in bgnbd.PARAMETERS)

    @property
    def gamma_gamma(self) -> tuple[float, ...]:
        assert self.parameters is not None, f"the fit of {self.account!r} is not reliable"
        return tuple(self.parameters[n] for n in gamma_gamma.PARAMETERS)


def read_all_summaries(conn: duckdb.DuckDBPyConnection, calibration_end: dt.date) -> dict:
    """Every account's customer summaries in days, one query (the summaries' one definition),
    as arrays named SUMMARY_NAMES, sorted by account and customer."""
    return conn.execute(summaries_sql(None, calibration_end, TIME_UNIT)).fetchnumpy()


def read_fitted_summaries(conn: duckdb.DuckDBPyConnection, fits: list[AccountFit]) -> dict:
    """The summaries the stored fits were made on, as read_all_summaries gives them. A home
    whose fit was stored before the summaries were has none stored: they are asked for again,
    at the fit's calibration end."""
    if not table_exists(conn, SUMMARIES_TABLE):
        return read_all_summaries(conn, fits[0].calibration_end)
    names = ", ".join(f'"{name}"' for name in SUMMARY_NAMES)
    return conn.execute(
        f"SELECT {names} FROM {SUMMARIES_TABLE} ORDER BY account, customer_key"
    ).fetchnumpy()


def fit_account(
    account: str, summaries: dict, calibration_end: dt.date, fitted_at: dt.datetime
) -> AccountFit:
    """Both models on one account's summaries (arrays x, t_x, T, m_x)."""
    x, t_x, T, m_x = (np.asarray(summaries[c], dtype=float) for c in ("x", "t_x", "T", "m_x"))
    purchases = bgnbd.fit(x, t_x, T)
    spend = gamma_gamma.fit(x, m_x) if purchases.reliable else None
    reason = None
    if not purchases.reliable:
        reason = f"BG/NBD (purchases): {purchases.reason}"
    elif spend is not None and not spend.reliable:
        reason = f"Gamma-Gamma (value): {spend.reason}"
    reliable = reason is None
    parameters = None
    if reliable:
        assert purchases.parameters and spend is not None and spend.parameters
        parameters = {
            **purchases.parameters,
            "log_likelihood": float(purchases.log_likelihood or 0.0),
            **spend.parameters,
        }
    return AccountFit(
        account,
        fitted_at,
        calibration_end,
        purchases.customers,
        purchases.repeat_customers,
        reliable,
        reason,
        parameters,
    )


def account_rows(summaries: dict) -> dict[str, np.ndarray]:
    """Each account's row positions in the summaries (they come sorted by account)."""
    accounts = np.asarray(summaries["account"], dtype=object)
    return {str(a): np.flatnonzero(accounts == a) for a in dict.fromkeys(accounts.tolist())}


def fit_accounts(
    summaries: dict, calibration_end: dt.date, fitted_at: dt.datetime
) -> list[AccountFit]:
    """Each account of the summaries (read_all_summaries') fitted on its own customers."""
    return [
        fit_account(account, {k: v[rows] for k, v in summaries.items()}, calibration_end, fitted_at)
        for account, rows in account_rows(summaries).items()
    ]


def write_fits(
    conn: duckdb.DuckDBPyConnection, fits: list[AccountFit], summaries: dict | None
) -> None:
    """Replace the fits table, and the summaries they were made on (None: no customer), whole
    and in one transaction: a fit covers every customer, so there is nothing to merge."""
    columns: dict[str, list] = {
        "account": [f.account for f in fits],
        "fitted_at": [f.fitted_at for f in fits],
        "calibration_end": [f.calibration_end for f in fits],
        "time_unit": [TIME_UNIT for _ in fits],
        "customers": [f.customers for f in fits],
        "repeat_customers": [f.repeat_customers for f in fits],
        "reliable": [f.reliable for f in fits],
        "reason": [f.reason for f in fits],
    }
    for name in PARAMETERS:
        columns[name] = [None if f.parameters is None else f.parameters[name] for f in fits]
    stored = summaries or {name: [] for name in SUMMARY_NAMES}
    summary_columns = {name: stored[name] for name in SUMMARY_NAMES}
    select = ", ".join(
        "CAST(first_day AS DATE)" if name == "first_day" else f'"{name}"' for name in SUMMARY_NAMES
    )
    write_tables(
        conn,
        [
            NewTable(SUMMARIES_TABLE, SUMMARIES_COLUMNS, summary_columns, select),
            NewTable(FITS_TABLE, FITS_COLUMNS, columns),
        ],
    )


def fits_exist(conn: duckdb.DuckDBPyConnection) -> bool:
    return table_exists(conn, FITS_TABLE)


def read_fits(conn: duckdb.DuckDBPyConnection, account: str | None = None) -> list[AccountFit]:
    """The stored fits (one account's, if named), in account order."""
    where, params = ("WHERE account = ?", [account]) if account is not None else ("", [])
    cursor = conn.execute(
        "SELECT account, fitted_at, calibration_end, customers, repeat_customers, reliable, "
        f"reason, {', '.join(PARAMETERS)} FROM {FITS_TABLE} {where} ORDER BY account",
        params,
    )
    fits = []
    for row in cursor.fetchall():
        values = dict(zip(PARAMETERS, row[7:], strict=True))
        fits.append(AccountFit(*row[:7], parameters=values if row[5] else None))
    return fits
