"""`ltv predict`'s object: both models fitted on one calibration period, and a holdout check.

The holdout compares, for the days after the calibration end up to the latest data day, the
sum of each calibration customer's conditional expected repeat occasions with the occasions
they actually had: the papers' own test of a fit, and the one a seller can read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np

from ltv_pipeline.metrics.as_of import data_as_of_day
from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from ltv_pipeline.metrics.predictive.summaries import (
    LEFT_OUT,
    TIME_UNITS,
    holdout_occasions_sql,
    summaries_sql,
)


@dataclass(frozen=True)
class Summaries:
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    m_x: np.ndarray


def read_summaries(
    conn: duckdb.DuckDBPyConnection, account: str | None, calibration_end: dt.date, unit: str
) -> Summaries:
    params = {} if account is None else {"account": account}
    table = conn.execute(summaries_sql(account, calibration_end, unit), params).fetchnumpy()
    return Summaries(*(np.asarray(table[c], dtype=float) for c in ("x", "t_x", "T", "m_x")))


def predict(
    conn: duckdb.DuckDBPyConnection,
    account: str | None,
    calibration_end: dt.date | None,
    time_unit: str,
) -> dict:
    """The issue's JSON object. Without a calibration end the fit takes every day of the data
    (and there is no holdout)."""
    latest = data_as_of_day(conn)
    end = calibration_end or latest or dt.date.today()
    s = read_summaries(conn, account, end, time_unit)
    purchases = bgnbd.fit(s.x, s.t_x, s.T)
    spend = gamma_gamma.fit(s.x, s.m_x)
    return {
        "calibration_end": end.isoformat(),
        "time_unit": time_unit,
        "customers": len(s.x),
        "bgnbd": _model_json(purchases, bgnbd.PARAMETERS, log_likelihood=True),
        "gamma_gamma": _model_json(spend, gamma_gamma.PARAMETERS, log_likelihood=False),
        "holdout": _holdout(conn, account, end, latest, time_unit, s, purchases),
        "left_out": LEFT_OUT,
    }


def _model_json(fit, names: tuple[str, ...], *, log_likelihood: bool) -> dict:
    params = fit.parameters or {}
    out = {n: (None if n not in params else round(params[n], 6)) for n in names}
    if log_likelihood:
        out["log_likelihood"] = None if fit.log_likelihood is None else round(fit.log_likelihood, 4)
    else:
        out["customers"] = fit.customers
    out["reliable"] = fit.reliable
    out["reason"] = fit.reason
    return out


def _holdout(conn, account, end, latest, unit, s: Summaries, fit) -> dict | None:
    if latest is None or latest <= end:
        return None
    params = {} if account is None else {"account": account}
    actual = conn.execute(holdout_occasions_sql(account, end, latest), params).fetchall()[0][0]
    predicted = None
    if fit.reliable:
        t = (latest - end).days / TIME_UNITS[unit]
        # t as the papers count it: from the calibration end day to the latest day.
        expected = bgnbd.conditional_expected_purchases(
            tuple(fit.parameters[n] for n in bgnbd.PARAMETERS), t, s.x, s.t_x, s.T
        )
        predicted = round(float(np.sum(expected)), 2)
    return {
        "end": latest.isoformat(),
        "predicted_repeat_purchases": predicted,
        "actual_repeat_purchases": int(actual),
    }
