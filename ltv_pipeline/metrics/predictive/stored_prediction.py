"""`ltv predict`'s object from the stored fit (`ltv_model_fits`), without fitting again.

The stored fit is in days. Asked in weeks, it is the same model in another unit: the rates'
scale alpha is divided by 7 (a rate per week is 7 times a rate per day), r, a and b do not
change, and the log-likelihood gains ln 7 per repeat purchase (each repeat purchase time's
density, per week, is 7 times its density per day). So a week's answer is exact, not a refit.
"""

from __future__ import annotations

import math

import duckdb

from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from ltv_pipeline.metrics.predictive.account_fits import AccountFit
from ltv_pipeline.metrics.predictive.summaries import LEFT_OUT, TIME_UNITS, summaries_sql
from ltv_pipeline.metrics.predictive.tables import SUMMARIES_TABLE
from ltv_pipeline.warehouse.catalog import table_exists


def _counts(conn: duckdb.DuckDBPyConnection, fit: AccountFit) -> tuple[int, int]:
    """(repeat purchases, repeat customers with a positive mean value) in the summaries the fit
    was made on: stored with it, or asked for again at its end in a home from before they were."""
    if table_exists(conn, SUMMARIES_TABLE):
        sql = f"SELECT x, m_x FROM {SUMMARIES_TABLE} WHERE account = $account"
    else:
        sql = summaries_sql(fit.account, fit.calibration_end, "day")
    row = conn.execute(
        f"SELECT coalesce(sum(x), 0), count(*) FILTER (WHERE x > 0 AND m_x > 0) FROM ({sql})",
        {"account": fit.account},
    ).fetchall()[0]
    return int(row[0]), int(row[1])


def stored_prediction(conn: duckdb.DuckDBPyConnection, fit: AccountFit, time_unit: str) -> dict:
    unit = TIME_UNITS[time_unit]
    repeat_purchases, spend_customers = _counts(conn, fit)
    p = fit.parameters or {}
    bg: dict = {n: None for n in (*bgnbd.PARAMETERS, "log_likelihood")}
    gg: dict = {n: None for n in gamma_gamma.PARAMETERS}
    if fit.reliable:
        bg = {
            "r": round(p["r"], 6),
            "alpha": round(p["alpha"] / unit, 6),
            "a": round(p["a"], 6),
            "b": round(p["b"], 6),
            "log_likelihood": round(p["log_likelihood"] + repeat_purchases * math.log(unit), 4),
        }
        gg = {n: round(p[n], 6) for n in gamma_gamma.PARAMETERS}
    return {
        "account": fit.account,
        "fitted_at": fit.fitted_at.isoformat(timespec="seconds") + "Z",
        "calibration_end": fit.calibration_end.isoformat(),
        "time_unit": time_unit,
        "customers": fit.customers,
        "bgnbd": {**bg, "reliable": fit.reliable, "reason": fit.reason},
        "gamma_gamma": {
            **gg,
            "customers": spend_customers,
            "reliable": fit.reliable,
            "reason": fit.reason,
        },
        "holdout": None,
        "left_out": LEFT_OUT,
    }
