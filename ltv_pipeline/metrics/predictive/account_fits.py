"""The fitted models per account, as the `ltv_model_fits` table stores them: one row per account,
fitted in days on every customer up to the data's latest day.

Per account, because a seller's customers are their own population: pooling two stores would
fit neither. One row carries both models, and `reliable` is true only when both are: a
customer's expected value needs the purchase model and the spend model, so a page that prints
one without the other would print half a number. When not reliable, every parameter is NULL
and `reason` says which model failed and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np

from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from ltv_pipeline.metrics.predictive.summaries import summaries_sql
from ltv_pipeline.metrics.predictive.table_write import write_table
from ltv_pipeline.metrics.predictive.tables import FITS_TABLE

TIME_UNIT = "day"
PARAMETERS = (*bgnbd.PARAMETERS, "log_likelihood", *gamma_gamma.PARAMETERS)
COLUMNS = (
    "account VARCHAR, fitted_at TIMESTAMP, calibration_end DATE, time_unit VARCHAR, "
    "customers BIGINT, repeat_customers BIGINT, reliable BOOLEAN, reason VARCHAR, "
    + ", ".join(f"{name} DOUBLE" for name in PARAMETERS)
)


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
    """Every account's customer summaries in days, one query (the summaries' one definition)."""
    return conn.execute(summaries_sql(None, calibration_end, TIME_UNIT)).fetchnumpy()


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
    conn: duckdb.DuckDBPyConnection, calibration_end: dt.date, fitted_at: dt.datetime
) -> list[AccountFit]:
    summaries = read_all_summaries(conn, calibration_end)
    return [
        fit_account(account, {k: v[rows] for k, v in summaries.items()}, calibration_end, fitted_at)
        for account, rows in account_rows(summaries).items()
    ]


def write_fits(conn: duckdb.DuckDBPyConnection, fits: list[AccountFit]) -> None:
    """Replace the table whole: a fit covers every customer, so there is nothing to merge."""
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
    write_table(conn, FITS_TABLE, COLUMNS, columns)


def fits_exist(conn: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?",
            [FITS_TABLE],
        ).fetchall()[0][0]
    )


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
