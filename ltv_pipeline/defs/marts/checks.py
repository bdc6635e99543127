"""What every mart run proves (docs/metrics.md: every metric reconciles)."""

from __future__ import annotations

import duckdb
from dagster import AssetCheckResult, AssetCheckSeverity

from ltv_pipeline.contracts.keys_unique import KEYS_UNIQUE, keys_unique
from ltv_pipeline.defs.marts.build import Mart
from ltv_pipeline.metrics.definitions import PERIODS
from ltv_pipeline.metrics.refund_rates import PRODUCT_DIMENSION, cohort_dimension

# Net revenue as each mart adds it up; every one must equal the unified transactions' sum.
# Cohorts from the first order hold every customer; from the first paid order they leave out
# customers who never paid for an order, so only the former must add up to the transactions.
_EVERYONE = "cohort_start = 'first_order'"
NET_TOTALS = {
    "cohort_ltv": [
        f"SELECT sum(net_revenue) FROM cohort_ltv WHERE horizon = 'all' AND period = '{p}' "
        f"AND {_EVERYONE}"
        for p in PERIODS
    ],
    "ltv_by_front_end_product": [
        f"SELECT sum(net_revenue) FROM ltv_by_front_end_product WHERE horizon = 'all' "
        f"AND {_EVERYONE}"
    ],
    "ltv_all_customers": [
        f"SELECT sum(net_revenue) FROM ltv_all_customers WHERE horizon = 'all' AND {_EVERYONE}"
    ],
    "customer_ltv": ["SELECT sum(net_all) FROM customer_ltv"],
    "ltv_daily_groups": [f"SELECT sum(net_all) FROM ltv_daily_groups WHERE {_EVERYONE}"],
    "refund_rates": [
        f"SELECT sum(gross_charged - refunded_amount) FROM refund_rates "
        f"WHERE dimension = '{d}' AND {_EVERYONE}"
        for d in [*(cohort_dimension(p) for p in PERIODS), PRODUCT_DIMENSION]
    ],
}
CURVE_MARTS = ("cohort_ltv", "ltv_by_front_end_product")  # charted in the UI
ELIGIBLE_MARTS = (*CURVE_MARTS, "ltv_all_customers")


def reconciles(conn: duckdb.DuckDBPyConnection, mart: Mart) -> AssetCheckResult:
    (expected,) = conn.execute("SELECT coalesce(sum(amount), 0) FROM transactions").fetchall()[0]
    totals = [conn.execute(sql).fetchall()[0][0] or 0 for sql in NET_TOTALS[mart.name]]
    return AssetCheckResult(
        check_name="net_revenue_reconciles",
        passed=all(total == expected for total in totals),
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "transactions_net": float(expected),
            "mart_net_totals": ", ".join(f"{float(t):.2f}" for t in totals),
        },
    )


def eligible_within_customers(conn: duckdb.DuckDBPyConnection, mart: Mart) -> AssetCheckResult:
    (bad,) = conn.execute(
        f"SELECT count(*) FROM {mart.name} WHERE eligible > customers OR eligible < 0"
    ).fetchall()[0]
    return AssetCheckResult(
        check_name="eligible_within_customers",
        passed=bad == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={"cells_with_more_eligible_than_customers": bad},
    )


def check_names(mart: Mart) -> list[str]:
    names = [KEYS_UNIQUE]
    if mart.name in NET_TOTALS:
        names.append("net_revenue_reconciles")
    if mart.name in ELIGIBLE_MARTS:
        names.append("eligible_within_customers")
    return names


def run_checks(conn: duckdb.DuckDBPyConnection, mart: Mart) -> list[AssetCheckResult]:
    results = [keys_unique(conn, mart.name, mart.key)]
    if mart.name in NET_TOTALS:
        results.append(reconciles(conn, mart))
    if mart.name in ELIGIBLE_MARTS:
        results.append(eligible_within_customers(conn, mart))
    return results
