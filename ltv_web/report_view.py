"""The report page's content, from the snapshot the pipeline published (never the warehouse)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ltv_core.chart_series import PAGE_COHORTS, chart_series
from ltv_core.published_reports import (
    BASES,
    BUILDING,
    FAILED,
    PENDING,
    PERIODS,
    PipelineState,
    read_published,
    read_state,
    variant_key,
)
from ltv_web.chart import curves_svg

HORIZON_NAMES = {
    "ltv_d0": "Day 0",
    "ltv_d7": "Day 7",
    "ltv_d30": "Day 30",
    "ltv_d60": "Day 60",
    "ltv_d90": "Day 90",
    "ltv_d180": "Day 180",
    "ltv_d365": "Day 365",
    "ltv_all": "All time",
}
COLUMN_NAMES = {
    **HORIZON_NAMES,
    "cohort": "Cohort",
    "customers": "Customers",
    "product_id": "Product ID",
    "product_name": "Product",
    "dimension": "By",
    "group_key": "Group",
    "group_name": "Name",
}


@dataclass
class Section:
    id: str
    title: str
    columns: list[str]
    headers: list[str]
    rows: list[list[Any]]
    labels: list[str] = field(default_factory=list)
    error: str | None = None
    chart: str | None = None
    censorable: bool = False  # empty cells mean right-censored


def header(column: str) -> str:
    return COLUMN_NAMES.get(column, column.replace("_", " ").capitalize())


def _section(
    reports: dict[str, Any], key: str, id_: str, title: str, censorable: bool = False
) -> Section:
    entry = reports.get(key)
    if entry is None:
        return Section(id_, title, [], [], [], error="not published yet")
    if "error" in entry:
        return Section(id_, title, [], [], [], error=entry["error"])
    columns = entry["columns"]
    return Section(
        id_,
        title,
        columns,
        [header(c) for c in columns],
        entry["rows"],
        entry.get("labels", []),
        censorable=censorable,
    )


def _with_chart(section: Section, key_column: str, title: str) -> Section:
    horizons = [c for c in HORIZON_NAMES if c in section.columns]
    if section.error or not section.rows or not horizons:
        return section
    rows = [dict(zip(section.columns, row, strict=True)) for row in section.rows]
    series = chart_series(rows, horizons, key_column, PAGE_COHORTS)
    section.chart = curves_svg(series, [HORIZON_NAMES[c] for c in horizons], title)
    return section


@dataclass
class ReportPage:
    basis: str
    period: str
    status: str  # "none" (nothing published yet), "not_ready", "ready"
    reason: str | None = None
    published_at: str | None = None
    sections: list[Section] = field(default_factory=list)
    account: str | None = None  # None: all accounts together
    accounts: list[str] = field(default_factory=list)  # offered by the switch when > 1
    notice: str | None = None
    # Raw partitions the numbers are without, and why ({asset, partition, reason, since}).
    left_out: list[dict[str, str]] = field(default_factory=list)
    stale: str | None = None  # why the numbers may be old: a rebuild running, failed or pending
    inputs_as_of: str | None = None  # the newest input the published numbers include


def stale_notice(state: PipelineState | None, published_at: str | None) -> str | None:
    """A sentence saying the numbers shown are not the newest, from the pipeline's state file
    only; None when they are up to date (or the pipeline has said nothing yet)."""
    if state is None:
        return None
    shown = f"Numbers as of {published_at} (UTC)" if published_at else "No numbers published yet"
    if state.state == BUILDING:
        return f"{shown}; a rebuild is running since {state.since} (UTC)."
    if state.state == FAILED:
        return f"{shown}; the last rebuild failed at {state.since} (UTC): {state.error}"
    if state.state == PENDING:
        return f"{shown}; new data since {state.since} (UTC) waits for a rebuild."
    return None


def build_report_page(
    published_dir, basis: str, period: str, account: str | None = None
) -> ReportPage:
    basis = basis if basis in BASES else "net"
    period = period if period in PERIODS else "month"
    document = read_published(published_dir)
    state = read_state(published_dir)
    if document is None:
        return ReportPage(basis, period, "none", stale=stale_notice(state, None))
    page = ReportPage(
        basis, period, document["status"], document.get("reason"), document.get("published_at")
    )
    page.left_out = list(document.get("left_out") or [])
    page.stale = stale_notice(state, page.published_at)
    page.inputs_as_of = state.inputs_as_of if state else None
    if page.status != "ready":
        return page
    by_account = document.get("by_account") or {}
    page.accounts = list(document.get("accounts") or [])
    reports = document["reports"]
    if account:
        if account in by_account:
            page.account = account
            reports = by_account[account]
        elif page.accounts == [account]:
            page.account = account  # the only account: its numbers are the overall ones
        else:
            page.notice = f"No account named {account!r} in the data; showing all accounts."
    cohorts = _section(
        reports,
        variant_key("cohort-ltv", basis, period),
        "cohort-ltv",
        f"Cohort LTV per customer ({basis}, by {period} of first purchase)",
        censorable=True,
    )
    products = _section(
        reports,
        variant_key("front-end-products", basis, None),
        "front-end-products",
        f"LTV by front-end product ({basis})",
        censorable=True,
    )
    page.sections = [
        _with_chart(
            cohorts,
            "cohort",
            f"{basis.capitalize()} LTV per customer by {period} cohort (latest {PAGE_COHORTS})",
        ),
        _with_chart(
            products, "product_name", f"{basis.capitalize()} LTV per customer by front-end product"
        ),
        _section(
            reports, variant_key("payment-plans", None, None), "payment-plans", "Payment plans"
        ),
        _section(
            reports, variant_key("subscriptions", None, None), "subscriptions", "Subscriptions"
        ),
        _section(
            reports,
            variant_key("refunds", None, period),
            "refunds",
            f"Refunds (cohorts by {period})",
        ),
        _section(
            reports,
            variant_key("purchase-intervals", None, None),
            "purchase-intervals",
            "Time between purchases (median days from order k to order k+1)",
        ),
    ]
    return page
