"""The report page's content, from the snapshot the pipeline published (never the warehouse)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ltv_core.chart_series import PAGE_COHORTS, Series, cell_value, chart_series
from ltv_core.curves_svg import HORIZON_DAYS, POOLED_COLOUR, curves_svg
from ltv_core.formatting import HORIZON_NAMES, TEXT_COLUMNS, cell_text, header
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

OVERVIEW_KEY = variant_key("overview", None, None)
# Heatmap colours: one hue (blue) from light to dark, readable by every kind of colour vision.
HEAT_LOW = (239, 246, 255)
HEAT_HIGH = (8, 69, 148)
# Above this share of a column's range the cell is dark enough to need white text.
HEAT_DARK_TEXT = 0.55
AS_OF_LABEL = re.compile(r"^as of (\d{4}-\d{2}-\d{2})")
# A projected column of `ltv report cohort-ltv --projected`: its horizon's column after the prefix.
PROJECTED_PREFIX = "projected_net_"
NOT_FITTED = "Predictions are not fitted yet"


@dataclass
class Cell:
    column: str
    value: Any  # as published (the CSV's text)
    text: str  # as shown; "" for an empty (censored) cell
    numeric: bool
    heat: float | None = None  # 0..1 within its column, for a heatmap cell
    note: str | None = None  # a muted addition, e.g. a group's key beside its name
    projected: str | None = None  # a censored cell's projected value, as shown ("" : none)
    projected_value: Any = None  # as published

    @property
    def empty(self) -> bool:
        return self.text == ""

    @property
    def style(self) -> str:
        if self.heat is None:
            return ""
        colour = "#" + "".join(
            f"{round(low + (high - low) * self.heat):02x}"
            for low, high in zip(HEAT_LOW, HEAT_HIGH, strict=True)
        )
        text = "#fff" if self.heat > HEAT_DARK_TEXT else "#1b1b1b"
        return f"background:{colour};color:{text}"


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
    heatmap: bool = False  # horizon cells coloured by their value within their column
    key: str | None = None  # the published variant: the CSV download's address
    cells: list[list[Cell]] = field(default_factory=list)
    cell_headers: list[tuple[str, str]] = field(default_factory=list)  # (column, header) shown
    show_all_link: str | None = None  # the chart shows some rows: where to see them all
    show_latest_link: str | None = None


def _display(section: Section, currency: str) -> Section:
    """The rows as the page shows them: formatted, a group named once, heat per horizon."""
    columns = section.columns
    merge_name = "group_key" in columns and "group_name" in columns
    # Projected columns are shown inside the censored cells they project, never as columns.
    shown = [
        c
        for c in columns
        if not (merge_name and c == "group_name") and not c.startswith(PROJECTED_PREFIX)
    ]
    section.cell_headers = [(c, header(c)) for c in shown]
    heat_range: dict[str, tuple[float, float]] = {}
    if section.heatmap:
        for column in (c for c in shown if c in HORIZON_NAMES):
            index = columns.index(column)
            known = [v for row in section.rows if (v := cell_value(row[index])) is not None]
            if known:
                heat_range[column] = (min(known), max(known))
    for row in section.rows:
        record = dict(zip(columns, row, strict=True))
        cells = []
        for column in shown:
            value = record[column]
            cell = Cell(
                column,
                value,
                cell_text(column, value, currency),
                column not in TEXT_COLUMNS and column != "formula_ltv_label",
            )
            if merge_name and column == "group_key":
                name = record["group_name"]
                cell.text = str(name or value)
                cell.note = str(value) if name and name != value else None
            if column in heat_range and not cell.empty:
                low, high = heat_range[column]
                number = cell_value(value) or 0.0
                cell.heat = (number - low) / (high - low) if high > low else 0.5
            projection = record.get(PROJECTED_PREFIX + column)
            if cell.empty and projection not in (None, ""):
                cell.projected = cell_text(column, projection, currency)
                cell.projected_value = projection
            cells.append(cell)
        section.cells.append(cells)
    return section


def _section(
    reports: dict[str, Any],
    key: str,
    id_: str,
    title: str,
    censorable: bool = False,
) -> Section:
    entry = reports.get(key)
    if entry is None:
        return Section(id_, title, [], [], [], error="not published yet", key=key)
    if "error" in entry:
        return Section(id_, title, [], [], [], error=entry["error"], key=key)
    columns = entry["columns"]
    return Section(
        id_,
        title,
        columns,
        [header(c) for c in columns],
        entry["rows"],
        entry.get("labels", []),
        censorable=censorable,
        heatmap=censorable,
        key=key,
    )


def pooled_series(overview: Headline | None, horizons: list[str]) -> Series | None:
    """The all-customers line from the published overview (None when it is not published)."""
    if overview is None:
        return None
    values = tuple(cell_value(overview.row.get(h)) for h in horizons)
    customers = overview.row.get("customers")
    size = f" (n={customers:,})" if isinstance(customers, int) else ""
    return Series(f"All customers{size}", POOLED_COLOUR, values)


def _with_chart(
    section: Section,
    key_column: str,
    title: str,
    currency: str,
    show_all: bool = False,
    pooled: Series | None = None,
) -> Section:
    horizons = [c for c in HORIZON_NAMES if c in section.columns]
    if section.error or not section.rows or not horizons:
        return section
    rows = [dict(zip(section.columns, row, strict=True)) for row in section.rows]
    count_column = "customers" if "customers" in section.columns else None
    latest = len(rows) if show_all else PAGE_COHORTS
    projected = [
        PROJECTED_PREFIX + h if PROJECTED_PREFIX + h in section.columns else None for h in horizons
    ]
    series = chart_series(
        rows, horizons, key_column, latest, count_column, projected if any(projected) else ()
    )
    section.chart = curves_svg(
        series, [HORIZON_DAYS[c] for c in horizons], title, currency, pooled=pooled
    )
    return section


@dataclass
class Headline:
    """The published overview's one row: the figures across every customer."""

    row: dict[str, Any]

    def figure(self, column: str, currency: str) -> str:
        return cell_text(column, self.row.get(column), currency)


def _headline(reports: dict[str, Any]) -> Headline | None:
    entry = reports.get(OVERVIEW_KEY)
    if not entry or "error" in entry or not entry.get("rows"):
        return None
    return Headline(dict(zip(entry["columns"], entry["rows"][0], strict=True)))


def as_of_day(sections: list[Section]) -> str | None:
    """The day the data is taken to end, as the reports' labels state it."""
    for section in sections:
        for label in section.labels:
            if match := AS_OF_LABEL.match(label):
                return match.group(1)
    return None


def page_notes(sections: list[Section]) -> list[str]:
    """Every section's labels once, in first-seen order, without the as-of day (shown on top):
    the choices behind the numbers are stated once per page, not under each table."""
    notes: list[str] = []
    for section in sections:
        for label in section.labels:
            if not AS_OF_LABEL.match(label) and label not in notes:
                notes.append(label)
    return notes


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
    as_of: str | None = None  # the day the data is taken to end
    notes: list[str] = field(default_factory=list)  # the choices behind every table, once
    headline: Headline | None = None  # the all-customers figures, when published
    currency: str = "USD"
    show_all: bool = False  # every cohort on the curves, not only the latest
    projected: bool = False  # the "Show projected" switch is on
    fitted: bool = False  # a fit exists for the accounts shown (the switch can show something)
    projection_line: str | None = None  # which fit the projected cells come from, or why none
    projection_left_out: str | None = None  # what the purchase model leaves out


def projection_line(projection: dict[str, Any] | None) -> str:
    """One sentence naming the fit(s) the projected cells come from and whether each is
    reliable (with why not), or saying there is no fit yet."""
    fits = (projection or {}).get("fits") or []
    if not fits:
        return f"{NOT_FITTED}: no projected cells to show."
    method = (projection or {}).get("method", "")

    def verdict(fit: dict[str, Any]) -> str:
        return "reliable" if fit.get("reliable") else f"not reliable: {fit.get('reason')}"

    if len(fits) == 1:
        fit = fits[0]
        return f"Projected from the fit of {fit['fitted_at']} UTC ({method}); {verdict(fit)}."
    each = "; ".join(
        f"{fit['account']}: fit of {fit['fitted_at']} UTC, {verdict(fit)}" for fit in fits
    )
    return f"Projected from each account's fit ({method}). {each}."


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
    published_dir,
    basis: str,
    period: str,
    account: str | None = None,
    currency: str = "USD",
    show_all: bool = False,
    projected: bool = False,
) -> ReportPage:
    basis = basis if basis in BASES else "net"
    period = period if period in PERIODS else "month"
    document = read_published(published_dir)
    state = read_state(published_dir)
    if document is None:
        return ReportPage(basis, period, "none", stale=stale_notice(state, None), currency=currency)
    page = ReportPage(
        basis,
        period,
        document["status"],
        document.get("reason"),
        document.get("published_at"),
        currency=currency,
        show_all=show_all,
        projected=projected,
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
    # Projections are of net LTV: the net cohort table has a projected twin (whose fits say
    # whether the switch can show anything), the gross one has none.
    projected_key = variant_key("cohort-ltv", "net", period, projected=True)
    projection = (reports.get(projected_key) or {}).get("projection")
    page.fitted = bool(projection and projection.get("fits"))
    show_projected = projected and basis == "net" and projected_key in reports
    if projected:
        page.projection_line = (
            projection_line(projection)
            if basis == "net"
            else "Projections are of net revenue: choose Net to see them."
        )
        page.projection_left_out = (projection or {}).get("left_out") if basis == "net" else None
    cohorts = _section(
        reports,
        projected_key if show_projected else variant_key("cohort-ltv", basis, period),
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
    page.headline = _headline(reports)
    pooled = pooled_series(page.headline, [c for c in HORIZON_NAMES if c in cohorts.columns])
    shown = "every" if show_all or len(cohorts.rows) <= PAGE_COHORTS else f"latest {PAGE_COHORTS}"
    page.sections = [
        _with_chart(
            cohorts,
            "cohort",
            f"{basis.capitalize()} LTV per customer by {period} cohort ({shown} cohorts)",
            currency,
            show_all,
            pooled,
        ),
        _with_chart(
            products,
            "product_name",
            f"{basis.capitalize()} LTV per customer by front-end product",
            currency,
            show_all=True,
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
    if len(cohorts.rows) > PAGE_COHORTS:
        cohorts.show_all_link = None if show_all else f"all {len(cohorts.rows)}"
        cohorts.show_latest_link = f"latest {PAGE_COHORTS}" if show_all else None
    page.sections = [_display(section, currency) for section in page.sections]
    page.as_of = as_of_day(page.sections)
    page.notes = page_notes(page.sections)
    return page


# The headline row: (overview column, label, the definition it links to).
HEADLINE_FIGURES = (
    ("customers", "Customers", "def-customers"),
    ("net_revenue", "Net revenue", "def-revenue"),
    ("ltv_d30", "Average LTV, day 30", "def-ltv"),
    ("ltv_d90", "Average LTV, day 90", "def-ltv"),
    ("ltv_d365", "Average LTV, day 365", "def-ltv"),
    ("repeat_rate", "Repeat purchase rate", "def-repeat-rate"),
    ("refund_rate", "Refund rate", "def-refund-rate"),
    ("active_subscribers", "Active subscribers", "def-subscribers"),
    ("mrr", "MRR", "def-mrr"),
)
# Every definition the page uses, stated once at its foot (in the words of the metric
# definitions, ltv_pipeline/metrics/definitions.py).
DEFINITIONS = (
    (
        "def-customers",
        "Customers",
        "People who completed at least one checkout, one per email address (the customer key); "
        "a customer's cohort is the period of that first order.",
    ),
    (
        "def-revenue",
        "Net revenue",
        "Every successful charge (orders, subscription rebills, payment-plan installments) minus "
        "refunds, up to the as-of day. Gross counts the charges only.",
    ),
    (
        "def-ltv",
        "Day-N LTV",
        "The revenue of a group's customers on days 0..N after each one's first purchase, "
        "divided by the group's customers, including those who bought nothing more. All time: up "
        "to the as-of day.",
    ),
    (
        "def-censored",
        "Empty cell (—)",
        "Right-censored: in a cohort row, not every customer is N days past the first purchase "
        "yet, so the cell is left empty rather than averaged over a shorter window. For the "
        "all-customers figures, day N averages over the customers at least N days past their "
        "first purchase and is empty while fewer than 30 are.",
    ),
    (
        "def-repeat-rate",
        "Repeat purchase rate",
        "Customers with a new checkout after their first day, over all customers; subscription "
        "rebills and installments are not repeat purchases.",
    ),
    (
        "def-refund-rate",
        "Refund rate",
        "Refunded amount over the gross amount charged (amount), and refunded orders over orders "
        "(orders); partial refunds make the two differ.",
    ),
    (
        "def-subscribers",
        "Active subscribers",
        "Customers with at least one active recurring subscription on the as-of day.",
    ),
    (
        "def-mrr",
        "MRR and ARPA",
        "Monthly recurring revenue: the monthly price of every active recurring subscription "
        "(yearly / 12, weekly x 52 / 12), without one-time charges or payment plans. ARPA is MRR "
        "per active subscriber; churn (30 days) is the share of the subscribers of 30 days ago "
        "whose last subscription ended since; formula LTV is ARPA / churn, a formula, not "
        "observed LTV.",
    ),
    (
        "def-plans",
        "Payment plans",
        "Booked: installments x price; collected: installments paid minus refunds; outstanding: "
        "booked minus collected. Completion rate: plans completed over plans whose last "
        "installment is due; capture rate: collected over booked; default rate: plans defaulted "
        "over plans due.",
    ),
    (
        "def-intervals",
        "Time between purchases",
        "The median days from a customer's order k to order k+1, over customers who placed "
        "order k+1.",
    ),
)
