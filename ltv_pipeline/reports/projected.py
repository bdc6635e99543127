"""The projected cohort cells beside the observed ones (`ltv report cohort-ltv --projected`).

The predictive assets write `ltv_model_fits` (one fit per account) and `cohort_ltv_projected`
(one projected net LTV per right-censored cell of the cohort_ltv mart). A report never fits a
model: it reads those tables. Projected values go into their own columns (projected_net_ltv_*),
filled only where the observed cell is right-censored, so an observed number is never replaced
or averaged with a projection. For all accounts together, each account's per-customer value
(observed where its own cell is complete, projected where it is censored) is weighted by the
customers it averages over, the way the reports add the accounts' stored sums; a combined cell
has no projection when any censored account has none (not fitted, or not reliable).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from ltv_pipeline.metrics.definitions import HORIZONS
from ltv_pipeline.metrics.ltv_table import per_customer
from ltv_pipeline.metrics.predictive.summaries import LEFT_OUT
from ltv_pipeline.metrics.predictive.tables import FITS_TABLE, PROJECTED_TABLE

METHOD = "BG/NBD + Gamma-Gamma"
# Only a horizon with a day past the first one can be right-censored: day 0 and all time never are.
PROJECTED_HORIZONS = tuple(label for label, days in HORIZONS if days is not None and days > 0)
PROJECTED_COLUMNS = [f"projected_net_ltv_{label}" for label in PROJECTED_HORIZONS]
NOT_FITTED = "predictions are not fitted yet"


@dataclass(frozen=True)
class Fit:
    """One account's fit as the reader is told about it: when, on what data, and whether its
    projections can be trusted (and why not)."""

    account: str
    fitted_at: str  # ISO time, UTC
    calibration_end: str
    reliable: bool
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def describe(self) -> str:
        verdict = "reliable" if self.reliable else f"not reliable: {self.reason or 'no reason'}"
        return (
            f"fit of {self.fitted_at} UTC (data up to {self.calibration_end}, {METHOD}); {verdict}"
        )


def projection_error(report: str, basis: str) -> str | None:
    """Why --projected does not apply to this report and basis (None: it does)."""
    if report != "cohort-ltv" or basis != "net":
        return (
            "--projected projects net LTV per cohort: use it with cohort-ltv and --basis net "
            f"(not {report} with --basis {basis})"
        )
    return None


def _tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def model_fits(conn: duckdb.DuckDBPyConnection, account: str | None) -> list[Fit]:
    """The fits behind the projections of `account` (None: every account); [] when none."""
    if FITS_TABLE not in _tables(conn):
        return []
    where = "WHERE account = $account" if account else ""
    rows = conn.execute(
        f"""SELECT account, strftime(fitted_at, '%Y-%m-%d %H:%M'), CAST(calibration_end AS VARCHAR),
                reliable, reason
            FROM {FITS_TABLE} {where} ORDER BY account""",
        {"account": account} if account else {},
    ).fetchall()
    return [Fit(a, at, end, bool(ok), reason) for a, at, end, ok, reason in rows]


def projection_summary(conn: duckdb.DuckDBPyConnection, account: str | None) -> dict[str, Any]:
    """What the published snapshot tells the page about the projections of `account` (None:
    every account): the method, what it leaves out, and each fit (none: never fitted)."""
    return {
        "method": METHOD,
        "left_out": LEFT_OUT,
        "fits": [fit.as_json() for fit in model_fits(conn, account)],
    }


def projection_labels(fits: list[Fit], as_of_on_request: bool) -> list[str]:
    """What the projected columns are, which fit they come from, and what the model leaves out."""
    labels = [
        "projected_net_ltv_*: net LTV per customer projected for right-censored cells only "
        "(observed cells are never changed); empty when the cell is observed or no reliable fit "
        "covers it"
    ]
    if as_of_on_request:
        labels.append("projected: none for a past as-of day (the fits project the stored marts)")
    if not fits:
        labels.append(f"projected: {NOT_FITTED}")
    elif len(fits) == 1:
        labels.append(f"projected from the {fits[0].describe()}")
    else:
        labels += [f"projected for {fit.account} from the {fit.describe()}" for fit in fits]
    labels.append(f"projected: {LEFT_OUT}")
    return labels


def projected_cells(
    conn: duckdb.DuckDBPyConnection, cohort_start: str, period: str, account: str | None
) -> dict[tuple[str, str], Decimal]:
    """{(cohort, horizon): projected net LTV per customer} for the censored cells that every
    censored account has a projection for. Only projections of the fit the labels name count:
    a run stopped between the fit and its projections leaves older ones, which stay unshown."""
    if not {PROJECTED_TABLE, FITS_TABLE} <= _tables(conn):
        return {}
    where = "AND c.account = $account" if account else ""
    params: dict[str, Any] = {"start": cohort_start, "period": period}
    if account:
        params["account"] = account
    rows = conn.execute(
        f"""SELECT c.cohort, c.horizon,
                bool_and(c.eligible = c.customers) AS observed,
                bool_and(c.eligible = c.customers OR p.projected_net_ltv IS NOT NULL)
                    AS covered,
                sum(CASE WHEN c.eligible = c.customers THEN c.net_revenue
                    ELSE p.projected_net_ltv * p.customers END) AS value,
                sum(CASE WHEN c.eligible = c.customers THEN c.customers
                    ELSE p.customers END) AS weight
            FROM cohort_ltv c
            LEFT JOIN (
                SELECT p.* FROM {PROJECTED_TABLE} p
                JOIN {FITS_TABLE} f ON f.account = p.account AND f.fitted_at = p.fitted_at
            ) p
              ON p.account = c.account AND p.cohort_start = c.cohort_start
             AND p.period = c.period AND p.cohort = c.cohort AND p.horizon = c.horizon
            WHERE c.cohort_start = $start AND c.period = $period {where}
            GROUP BY c.cohort, c.horizon""",
        params,
    ).fetchall()
    return {
        (cohort, horizon): per_customer(value, int(weight))
        for cohort, horizon, observed, covered, value, weight in rows
        if not observed and covered and weight
    }


def with_projections(
    columns: list[str], rows: list[list], cells: dict[tuple[str, str], Decimal]
) -> tuple[list[str], list[list]]:
    """The cohort rows with a projected column per censorable horizon, empty unless the
    observed cell is censored and a projection covers it."""
    cohort, observed = columns.index("cohort"), {c: columns.index(c) for c in columns}
    projected_rows = []
    for row in rows:
        extra = []
        for label in PROJECTED_HORIZONS:
            value = cells.get((row[cohort], label))
            censored = row[observed[f"ltv_{label}"]] == ""
            extra.append(f"{value:.2f}" if censored and value is not None else "")
        projected_rows.append([*row, *extra])
    return [*columns, *PROJECTED_COLUMNS], projected_rows
