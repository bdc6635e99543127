"""The calibration/holdout check of a fit, as the papers draw it: the model fitted on the data up
to a split day, then cumulative repeat purchase occasions per week, actual against the model's,
over the whole history. A seller sees at a glance whether the model follows their customers in
the weeks it was not fitted on.

The split keeps the last third of the history (at most 52 weeks) for the holdout: enough later
weeks to see the curves part if they do, and most of the data for the fit. The model's curve
is the paper's (equation (9) summed over each start day's customers: a customer who started on
day s contributes E[X(t - s)] by day t), the same over the calibration and holdout weeks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.predictive import bgnbd
from ltv_pipeline.metrics.predictive.prediction import predict
from ltv_pipeline.metrics.predictive.summaries import occasions_sql

MAX_HOLDOUT_DAYS = 364
MIN_HOLDOUT_DAYS = 7


@dataclass(frozen=True)
class Tracking:
    split: dt.date
    start: dt.date  # the account's first purchase day: week 0 starts here
    week_end_days: list[int]  # days from `start` to each week's end
    actual: list[float]  # cumulative repeat occasions by each week's end
    predicted: list[float] | None  # the model's, None when the calibration fit is unreliable
    prediction: dict  # `ltv predict`'s object for the split: parameters and holdout totals


def holdout_split(first: dt.date, latest: dt.date) -> dt.date | None:
    """The last third of the history, at most 52 weeks; None below a week of holdout."""
    holdout = min((latest - first).days // 3, MAX_HOLDOUT_DAYS)
    return None if holdout < MIN_HOLDOUT_DAYS else latest - dt.timedelta(days=holdout)


def tracking(conn: duckdb.DuckDBPyConnection, account: str, latest: dt.date) -> Tracking | None:
    """None when the history is too short for a holdout."""
    params = {"account": account}
    first = conn.execute(
        "SELECT min(transaction_day) FROM transactions "
        "WHERE kind = 'order_line' AND account = $account",
        params,
    ).fetchall()[0][0]
    split = None if first is None else holdout_split(first, latest)
    if split is None:
        return None
    prediction = predict(conn, account, split, "day")
    per_day = conn.execute(
        f"""
        WITH occasions AS ({occasions_sql(account, latest)}),
        firsts AS (
            SELECT *, min(day) OVER (PARTITION BY customer_key) AS first_day FROM occasions
        )
        SELECT date_diff('day', {day_literal(first)}, first_day) AS start_day,
            count(*) FILTER (WHERE day = first_day) AS starters,
            list(date_diff('day', {day_literal(first)}, day)) FILTER (WHERE day > first_day)
                AS repeat_days
        FROM firsts WHERE first_day <= {day_literal(split)}
        GROUP BY first_day ORDER BY first_day""",
        params,
    ).fetchall()
    start_days = np.array([r[0] for r in per_day], dtype=float)
    starters = np.array([r[1] for r in per_day], dtype=float)
    repeat_days = np.sort(np.array([d for r in per_day for d in (r[2] or [])], dtype=float))
    weeks = -(-((latest - first).days + 1) // 7)
    week_end_days = [7 * (w + 1) for w in range(weeks)]
    actual = [float(np.searchsorted(repeat_days, end, side="left")) for end in week_end_days]
    bg = prediction["bgnbd"]
    predicted = None
    if bg["reliable"]:
        fit = tuple(bg[n] for n in bgnbd.PARAMETERS)
        predicted = []
        for end in week_end_days:
            started = start_days < end
            ages = end - start_days[started]
            expected = bgnbd.expected_purchases_new_customer(fit, ages)
            predicted.append(float(np.sum(starters[started] * expected)))
    return Tracking(split, first, week_end_days, actual, predicted, prediction)
