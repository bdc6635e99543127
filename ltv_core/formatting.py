"""How the report page writes a published cell for a reader: money in the home's currency
($1,234.50), rates as percents (82.6%), counts with thousands separators, and human headers.

The snapshot keeps the exact text `ltv report` prints (amounts with two decimals, rates as
fractions); only the page's display changes, so the CSV download stays the CLI's rows.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# Symbols for common codes; any other code is written before the amount ("CHF 1,234.50").
CURRENCY_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "INR": "₹",
    "BRL": "R$",
    "MXN": "MX$",
}
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
MONEY_COLUMNS = {
    *HORIZON_NAMES,
    "booked",
    "collected",
    "outstanding",
    "mrr",
    "arpa",
    "formula_ltv",
    "gross_charged",
    "refunded_amount",
    "net_revenue",
    "gross_revenue",
}
RATE_COLUMNS = {
    "completion_rate",
    "capture_rate",
    "default_rate",
    "churn_rate_30d",
    "refund_rate_amount",
    "refund_rate_orders",
    "repeat_rate",
    "refund_rate",
}
# Columns that hold names, left-aligned; every other column is a number.
TEXT_COLUMNS = {"cohort", "product_id", "product_name", "dimension", "group_key", "group_name"}
COLUMN_NAMES = {
    **HORIZON_NAMES,
    "cohort": "Cohort",
    "customers": "Customers",
    "product_id": "Product ID",
    "product_name": "Product",
    "dimension": "Grouped by",
    "group_key": "Group",
    "group_name": "Name",
    "plans": "Plans",
    "plans_due": "Plans due",
    "booked": "Booked",
    "collected": "Collected",
    "outstanding": "Outstanding",
    "completed_due": "Completed",
    "defaulted_due": "Defaulted",
    "completion_rate": "Completion rate",
    "capture_rate": "Capture rate",
    "default_rate": "Default rate",
    "active_subscribers": "Active subscribers",
    "active_subscriptions": "Active subscriptions",
    "mrr": "MRR",
    "subscribers_at_window_start": "Subscribers 30 days ago",
    "churned_subscribers": "Churned (30 days)",
    "arpa": "ARPA",
    "churn_rate_30d": "Churn rate (30 days)",
    "formula_ltv": "Formula LTV",
    "formula_ltv_label": "How formula LTV is computed",
    "gross_charged": "Gross charged",
    "refunded_amount": "Refunded",
    "refund_rate_amount": "Refund rate (amount)",
    "orders": "Orders",
    "refunded_orders": "Refunded orders",
    "refund_rate_orders": "Refund rate (orders)",
    "from_order": "From order",
    "median_days": "Median days to next order",
}


def header(column: str) -> str:
    return COLUMN_NAMES.get(column, column.replace("_", " ").capitalize())


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: object, currency: str) -> str:
    """$1,234.50; -$12.00; a code without a known symbol goes first: CHF 1,234.50."""
    amount = _decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    sign = "-" if amount < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency)
    digits = f"{abs(amount):,.2f}"
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{currency} {digits}"


def percent(value: object) -> str:
    """A fraction as a percent with one decimal: 0.8259 -> 82.6%."""
    rate = _decimal(value)
    if rate is None:
        return "" if value is None else str(value)
    return f"{rate * 100:,.1f}%"


def count(value: object) -> str:
    """Whole numbers with thousands separators; other text unchanged."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def cell_text(column: str, value: object, currency: str) -> str:
    """A published cell as the page writes it ("" for an empty, i.e. censored, cell)."""
    if value is None or value == "":
        return ""
    if column in MONEY_COLUMNS:
        return money(value, currency)
    if column in RATE_COLUMNS:
        return percent(value)
    if column in TEXT_COLUMNS:
        return str(value)
    return count(value)
