"""Publishing the report rows for the page: every variant the page offers, computed with the
same code as `ltv report`, written as one snapshot (ltv_core/published_reports.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from ltv_core.published_reports import VARIANTS, write_published
from ltv_pipeline.contracts.left_out import left_out_partitions
from ltv_pipeline.metrics.definitions import MetricOptions
from ltv_pipeline.reports.build import ACCOUNTS_SQL, ReportError, build_report
from ltv_pipeline.reports.projected import projection_summary


def _plain(value: Any) -> Any:
    """JSON-safe cell: numbers stay numbers, decimals and dates become their text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _variant_reports(conn: duckdb.DuckDBPyConnection, account: str | None) -> dict[str, Any]:
    """Every variant for one account (None: all accounts together); ReportError when the model
    is not built yet."""
    reports: dict[str, Any] = {}
    for variant in VARIANTS:
        options = MetricOptions(period=variant.period or "month")
        try:
            columns, rows, labels = build_report(
                conn,
                variant.report,
                account=account,
                basis=variant.basis or "net",
                options=options,
                projected=variant.projected,
            )
        except duckdb.Error as exc:
            # One broken report must not hide the others: the page shows this error in its place.
            reports[variant.key] = {"report": variant.report, "error": str(exc).strip()}
            continue
        reports[variant.key] = {
            "report": variant.report,
            "basis": variant.basis,
            "period": variant.period,
            "columns": list(columns),
            "rows": [[_plain(v) for v in row] for row in rows],
            "labels": list(labels),
        }
        if variant.projected:
            reports[variant.key]["projection"] = projection_summary(conn, account)
    return reports


def compute_reports(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every variant's (columns, rows, labels), for all accounts together and, when there is more
    than one SamCart account, for each on its own; or why the reports cannot be computed yet."""
    try:
        reports = _variant_reports(conn, None)
    except ReportError as exc:
        return {"status": "not_ready", "reason": str(exc), "reports": {}}
    accounts = [row[0] for row in conn.execute(ACCOUNTS_SQL).fetchall()]
    by_account = (
        {account: _variant_reports(conn, account) for account in accounts}
        if len(accounts) > 1
        else {}
    )
    return {
        "status": "ready",
        "reason": None,
        "reports": reports,
        "accounts": accounts,
        "by_account": by_account,
    }


def publish_reports(conn: duckdb.DuckDBPyConnection, published_dir: Path) -> dict[str, Any]:
    """Compute and publish every variant, with the raw partitions the model leaves out (the
    page says the numbers are without them, and why); returns what was written."""
    payload = compute_reports(conn)
    payload["left_out"] = [partition.as_json() for partition in left_out_partitions(conn)]
    write_published(published_dir, payload)
    return payload
