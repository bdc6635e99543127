"""The demo business as SamCart's three CSV exports, with the canonical headers of
samcart_formats.toml (each column's first alias), `$` money and month/day/year dates."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from ltv_core.formats.profiles import FormatCatalog
from ltv_pipeline.demo.business import Business, Subscription, charge_day

ORDER_COLUMNS = (
    "order_id",
    "order_date",
    "order_time",
    "order_status",
    "product_id",
    "product_name",
    "price",
    "customer_first_name",
    "customer_last_name",
    "customer_email",
    "customer_phone",
    "billing_city",
    "billing_state",
    "billing_zip",
    "subscription_id",
    "transaction_id",
)
SUBSCRIPTION_COLUMNS = (
    "subscription_id",
    "order_id",
    "customer_first_name",
    "customer_last_name",
    "customer_email",
    "product_id",
    "product_name",
    "status",
    "created_date",
    "next_rebill_date",
    "canceled_date",
    "recurring_price",
    "frequency",
    "charges_made",
    "failed_charges",
    "total_collected",
)
PLAN_COLUMNS = (*SUBSCRIPTION_COLUMNS[:10], "end_date", *SUBSCRIPTION_COLUMNS[10:], "plan_payments")


def money(value: Decimal) -> str:
    return f"${value:,.2f}"


def _date(day) -> str:
    return "" if day is None else day.strftime("%m/%d/%Y")


def _headers(catalog: FormatCatalog, format_name: str, columns: tuple[str, ...]) -> list[str]:
    profile = catalog.profiles[format_name]
    return [profile.column(name).aliases[0] for name in columns]


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def orders_csv(business: Business, catalog: FormatCatalog) -> bytes:
    rows = []
    for customer in business.customers:
        for line in customer.lines:
            rows.append(
                [
                    str(line.order_id),
                    _date(line.at.date()),
                    line.at.strftime("%H:%M:%S"),
                    line.status,
                    line.product.id,
                    line.product.name,
                    money(line.price),
                    customer.first_name,
                    customer.last_name,
                    customer.email,
                    customer.phone,
                    customer.city,
                    customer.state,
                    customer.zip,
                    "" if line.subscription_id is None else str(line.subscription_id),
                    line.transaction_id,
                ]
            )
    rows.sort(key=lambda r: int(r[0]))
    return _csv(_headers(catalog, "samcart-orders", ORDER_COLUMNS), rows)


def _subscription_row(customer, sub: Subscription, today) -> list[str]:
    product = sub.product
    next_rebill = None
    if sub.status == "Active":
        next_rebill = charge_day(sub.started, product.frequency, sub.charges_made)
        next_rebill = next_rebill if next_rebill >= today else None
    return [
        str(sub.id),
        str(sub.order_id),
        customer.first_name,
        customer.last_name,
        customer.email,
        product.id,
        product.name,
        sub.status,
        _date(sub.started),
        _date(next_rebill),
        _date(sub.canceled),
        money(product.price),
        product.frequency,
        str(sub.charges_made),
        str(sub.failed_charges),
        money(product.price * sub.charges_made),
    ]


def subscriptions_csv(business: Business, catalog: FormatCatalog, kind: str) -> bytes:
    rows = []
    for customer in business.customers:
        for sub in customer.subscriptions:
            if sub.product.kind != kind:
                continue
            row = _subscription_row(customer, sub, business.today)
            if kind == "plan":
                end = charge_day(sub.started, sub.product.frequency, sub.product.plan_payments - 1)
                row = [*row[:10], _date(end), *row[10:], str(sub.product.plan_payments)]
            rows.append(row)
    rows.sort(key=lambda r: int(r[0]))
    if kind == "plan":
        return _csv(_headers(catalog, "samcart-limited-subscriptions", PLAN_COLUMNS), rows)
    return _csv(_headers(catalog, "samcart-recurring-subscriptions", SUBSCRIPTION_COLUMNS), rows)


def demo_exports(business: Business, catalog: FormatCatalog) -> dict[str, bytes]:
    """File name -> bytes, as SamCart would email them."""
    return {
        "samcart_orders_export.csv": orders_csv(business, catalog),
        "samcart_recurring_subscriptions_export.csv": subscriptions_csv(
            business, catalog, "recurring"
        ),
        "samcart_limited_subscriptions_export.csv": subscriptions_csv(business, catalog, "plan"),
    }
