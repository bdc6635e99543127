"""`predicted_customer_ltv`: per customer, the probability they are still a customer, and their
expected purchases and value over the next 90, 180 and 365 days, from their account's stored fit.

Scored on the summaries the fit was made on (stored beside it), so each number is the model's
answer for the customer as the fit saw them. A customer of an account whose fit is not
reliable keeps their row (frequency, recency, T, monetary are facts) with NULL predictions.
Every summary column is kept, so what is made from the predictions (the projected cohort
cells) reads them here rather than asking the warehouse again.
"""

from __future__ import annotations

import numpy as np

from ltv_pipeline.metrics.predictive import bgnbd
from ltv_pipeline.metrics.predictive.account_fits import (
    AccountFit,
    account_rows,
    read_fitted_summaries,
)
from ltv_pipeline.metrics.predictive.expected_value import expected_value
from ltv_pipeline.metrics.predictive.table_write import write_table
from ltv_pipeline.metrics.predictive.tables import (
    HORIZON_DAYS,
    MONEY,
    PREDICTIONS_COLUMNS,
    PREDICTIONS_TABLE,
)

# In PREDICTIONS_COLUMNS' order.
SELECT = ", ".join(
    [
        "account",
        "customer_key",
        "CAST(first_day AS DATE)",
        "CAST(x AS INTEGER)",
        "t_x",
        '"T"',
        "m_x",
        "p_alive",
        *(f"expected_purchases_{d}" for d in HORIZON_DAYS),
        *(f"CAST(round(expected_value_{d}, 2) AS {MONEY})" for d in HORIZON_DAYS),
        "fitted_at",
    ]
)


def score(fit: AccountFit, x, t_x, T, m_x) -> dict[str, np.ndarray]:
    """p_alive and the expectations for one account's customers (NaN when not reliable)."""
    scored = {
        "p_alive": np.full(len(x), np.nan),
        **{f"expected_purchases_{d}": np.full(len(x), np.nan) for d in HORIZON_DAYS},
        **{f"expected_value_{d}": np.full(len(x), np.nan) for d in HORIZON_DAYS},
    }
    if not fit.reliable or len(x) == 0:
        return scored
    scored["p_alive"] = bgnbd.probability_alive(fit.bgnbd, x, t_x, T)
    for d in HORIZON_DAYS:
        scored[f"expected_purchases_{d}"] = bgnbd.conditional_expected_purchases(
            fit.bgnbd, d, x, t_x, T
        )
        scored[f"expected_value_{d}"] = expected_value(
            fit.bgnbd, fit.gamma_gamma, d, x, t_x, T, m_x
        )
    return scored


def build_customer_predictions(conn, fits: list[AccountFit]) -> int:
    """Replace the table with every fitted account's customers; returns the rows written."""
    if not fits:
        write_table(conn, PREDICTIONS_TABLE, PREDICTIONS_COLUMNS, _empty_columns(), SELECT)
        return 0
    summaries = read_fitted_summaries(conn, fits)
    by_account = {f.account: f for f in fits}
    parts = []
    for account, rows in account_rows(summaries).items():
        fit = by_account.get(account)
        if fit is None:  # an account with no fit yet (its data came after the fit)
            continue
        columns = {k: v[rows] for k, v in summaries.items()}
        arrays = (np.asarray(columns[c], dtype=float) for c in ("x", "t_x", "T", "m_x"))
        columns.update(score(fit, *arrays))
        columns["fitted_at"] = np.array([fit.fitted_at] * len(rows), dtype="datetime64[us]")
        parts.append(columns)
    merged = {
        name: np.concatenate([p[name] for p in parts]) if parts else np.array([])
        for name in _empty_columns()
    }
    write_table(conn, PREDICTIONS_TABLE, PREDICTIONS_COLUMNS, merged, SELECT)
    return len(merged["account"])


def _empty_columns() -> dict[str, list]:
    names = ["account", "customer_key", "first_day", "x", "t_x", "T", "m_x", "p_alive"]
    names += [f"expected_purchases_{d}" for d in HORIZON_DAYS]
    names += [f"expected_value_{d}" for d in HORIZON_DAYS]
    return {name: [] for name in [*names, "fitted_at"]}
