"""LTV curves as the table people read: one row per cohort (or product), one column per
horizon, summed across accounts unless one is chosen. Censored cells are None; the rule that
empties a cell (strict for cohorts, pooled for products and all customers) is applied to the
summed counts, so accounts add up before any average is taken."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb

from ltv_pipeline.metrics.definitions import HORIZONS, POOLED_MIN_ELIGIBLE

CENT = Decimal("0.01")
HORIZON_COLUMNS = [f"ltv_{label}" for label, _ in HORIZONS]
ELIGIBLE_COLUMNS = [f"eligible_{label}" for label, _ in HORIZONS]


def per_customer(revenue: Decimal, customers: int) -> Decimal:
    return (Decimal(revenue) / customers).quantize(CENT, rounding=ROUND_HALF_UP)


def ltv_table(
    conn: duckdb.DuckDBPyConnection,
    long_sql: str,
    basis: str,
    account: str | None,
    pooled: bool = False,
) -> list[dict[str, object]]:
    """Rows {group_key, group_name, customers, ltv_d0.., eligible_d0.., censored: [labels]}
    from long curve rows (see ltv_curves.py); a cohort cell is a value only when every member is
    eligible for it, a pooled cell when at least POOLED_MIN_ELIGIBLE are (averaged over them)."""
    where = "WHERE account = $account" if account else ""
    cursor = conn.execute(
        f"""SELECT group_key, min(group_name), horizon, sum(customers), sum(eligible),
                sum({basis}_revenue)
            FROM ({long_sql}) {where} GROUP BY group_key, horizon ORDER BY group_key""",
        {"account": account} if account else {},
    )
    rows: dict[str, dict[str, object]] = {}
    for key, name, horizon, customers, eligible, revenue in cursor.fetchall():
        row = rows.setdefault(
            key, {"group_key": key, "group_name": name, "customers": 0, "censored": []}
        )
        row["customers"] = int(customers)
        row[f"eligible_{horizon}"] = int(eligible)
        if pooled and eligible >= POOLED_MIN_ELIGIBLE:
            row[f"ltv_{horizon}"] = per_customer(revenue, int(eligible))
        elif not pooled and eligible == customers and customers:
            row[f"ltv_{horizon}"] = per_customer(revenue, int(customers))
        else:
            row[f"ltv_{horizon}"] = None
            row["censored"].append(horizon)  # type: ignore[union-attr]
    return [rows[k] for k in sorted(rows)]
