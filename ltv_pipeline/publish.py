"""Publishing the report rows: what the report page shows, written after the marts change.

DuckDB lets no other process open the warehouse while the pipeline writes to it, so the web page
never reads the warehouse. Instead, a step of the pipeline (the `published_reports` asset, run
after the marts) computes every report the page offers, in each variant it can switch between
(net/gross, month/week; all accounts together and, for an agency, each SamCart account on its
own), with the same code as `ltv report`, and writes them all as ONE JSON file, replaced
atomically. A reader sees the previous snapshot or the new one, never a mix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from ltv_pipeline.lib.atomic_files import write_atomically

PUBLISHED_FILE = "reports.json"
SCHEMA_VERSION = 1
BASES = ("net", "gross")
PERIODS = ("month", "week")
# The accounts a report can be narrowed to: those with at least one customer.
ACCOUNTS_SQL = "SELECT DISTINCT account FROM customers ORDER BY account"


@dataclass(frozen=True)
class Variant:
    """One table the page can show: a report, and the switches that change its numbers."""

    report: str
    basis: str | None = None  # None: the report has no net/gross choice
    period: str | None = None  # None: the report has no cohort period

    @property
    def key(self) -> str:
        return variant_key(self.report, self.basis, self.period)


def variant_key(report: str, basis: str | None, period: str | None) -> str:
    return "/".join([report, basis or "-", period or "-"])


VARIANTS: tuple[Variant, ...] = (
    *(Variant("cohort-ltv", b, p) for b in BASES for p in PERIODS),
    *(Variant("front-end-products", b) for b in BASES),
    Variant("payment-plans"),
    Variant("subscriptions"),
    *(Variant("refunds", period=p) for p in PERIODS),
    Variant("purchase-intervals"),
)


def published_path(published_dir: Path) -> Path:
    return published_dir / PUBLISHED_FILE


def _plain(value: Any) -> Any:
    """JSON-safe cell: numbers stay numbers, decimals and dates become their text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _variant_reports(conn: duckdb.DuckDBPyConnection, account: str | None) -> dict[str, Any]:
    """Every variant for one account (None: all accounts together); ReportError when the model
    is not built yet."""
    from ltv_pipeline.cli.report import build_report
    from ltv_pipeline.metrics.definitions import MetricOptions

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
    return reports


def compute_reports(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every variant's (columns, rows, labels), for all accounts together and, when there is more
    than one SamCart account, for each on its own; or why the reports cannot be computed yet."""
    from ltv_pipeline.cli.report import ReportError

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


def write_published(published_dir: Path, payload: dict[str, Any]) -> Path:
    """Write the snapshot next to its final name, fsync, then rename over the old one."""
    published_dir.mkdir(parents=True, exist_ok=True)
    target = published_path(published_dir)
    document = {
        "schema": SCHEMA_VERSION,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **payload,
    }
    text = json.dumps(document, ensure_ascii=False)
    write_atomically(target, lambda out: out.write(text.encode()))
    return target


def publish_reports(conn: duckdb.DuckDBPyConnection, published_dir: Path) -> dict[str, Any]:
    """Compute and publish every variant; returns what was written (for asset metadata)."""
    payload = compute_reports(conn)
    write_published(published_dir, payload)
    return payload


def read_published(published_dir: Path) -> dict[str, Any] | None:
    """The latest snapshot, or None when the pipeline has published nothing yet."""
    path = published_path(published_dir)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    if document.get("schema") != SCHEMA_VERSION:
        return None
    return document
