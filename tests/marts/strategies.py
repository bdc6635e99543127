"""Hypothesis strategies for SamCart inputs: orders exports, recurring subscription exports and
the webhooks that report the same sales, their refunds and the subscriptions' charges."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from pathlib import Path

from hypothesis import strategies as st

from tests.marts.cases import order_row, webhook
from tests.support import RECURRING_SAMPLE

EMAILS = ["ada@x.io", "grace@y.io", "alan@z.io", "kay@w.io"]
STATUSES = ["Charged"] * 6 + ["Refunded", "Partially Refunded", "Declined"]
FIRST_DAY = dt.date(2024, 1, 1)
Hook = tuple[bytes, dt.datetime]  # a delivery's body and when it was received


def _day(draw, last: int = 200) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=draw(st.integers(0, last)))


def us_date(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


@st.composite
def orders(draw) -> list[list[str]]:
    """Orders with distinct products and prices within each order (the identity of a line is
    its product's n-th occurrence, and ties in price would make the front-end line depend on
    row order, which no export promises)."""
    rows = []
    for order_id in range(1, draw(st.integers(2, 9)) + 1):
        day = _day(draw)
        email = draw(st.sampled_from(EMAILS))
        spelled = draw(st.sampled_from([email, email.upper(), f" {email.title()} "]))
        status = draw(st.sampled_from(STATUSES))
        products = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3, unique=True))
        prices = draw(st.lists(st.integers(0, 300), min_size=3, max_size=3, unique=True))
        for product, price in zip(products, prices, strict=False):
            rows.append(order_row(1000 + order_id, us_date(day), product, price, spelled, status))
    return rows


def received(row: list[str], days_later: int = 0, hour: int | None = None) -> dt.datetime:
    """When a webhook about an export line arrives: at the order's time, or days later."""
    _order_id, day, time, *_ = row
    at = dt.datetime.strptime(f"{day} {time}", "%m/%d/%Y %H:%M:%S")
    at += dt.timedelta(days=days_later)
    return at if hour is None else at.replace(hour=hour)


def _money(text: str) -> str:
    return text.lstrip("$").replace(",", "")


def sale_hook(row: list[str]) -> Hook:
    """The Order webhook of an export line: the same sale, received when it was made."""
    order_id, _day, _time, _status, product, _name, price, email = row
    body = webhook("Order", int(order_id), int(product), _money(price), email.upper())
    return body, received(row)


@st.composite
def refund_hooks(draw, rows: list[list[str]]) -> list[Hook]:
    """Refund webhooks of some charged or refunded export lines, in full or in part, some days
    after the sale."""
    refundable = [r for r in rows if r[3] != "Declined" and float(_money(r[6])) > 0]
    chosen = draw(st.lists(st.sampled_from(refundable), unique_by=tuple)) if refundable else []
    hooks = []
    for n, row in enumerate(chosen):
        order_id, _day, _time, _status, product, _name, price, email = row
        full = float(_money(price))
        amount = draw(st.sampled_from([full, round(full / 2, 2)]))
        body = webhook(
            "Refund" if amount == full else "PartialRefund",
            int(order_id),
            int(product),
            f"{amount:.2f}",
            email,
            refund_transaction_id=f"re_{order_id}_{product}_{n}",
        )
        hooks.append((body, received(row, draw(st.integers(0, 40)), hour=12)))
    return hooks


@st.composite
def webhook_sales(draw) -> list[Hook]:
    """Sales reported only by webhook (no export has them), some by known customers."""
    hooks = []
    for n in range(draw(st.integers(0, 3))):
        email = draw(st.sampled_from([*EMAILS, f"new{n}@v.io"]))
        at = dt.datetime.combine(_day(draw, 230), dt.time(draw(st.integers(0, 23))))
        body = webhook("Order", 5000 + n, draw(st.integers(1, 6)), draw(st.integers(1, 300)), email)
        hooks.append((body, at))
    return hooks


SUBSCRIPTION_HEADER = RECURRING_SAMPLE.read_text(encoding="utf-8-sig").splitlines()[0].split(",")


@st.composite
def subscriptions(draw) -> tuple[list[list[str]], list[list[str]], list[Hook]]:
    """Monthly subscriptions: the export rows (a subscription may appear twice, as an earlier
    and a later snapshot with more charges, as overlapping exports hold it), the checkout
    order lines that started them, and the webhooks of their charges (a charge the exports only
    count, or one after the last export)."""
    exported, checkouts, hooks = [], [], []
    for n in range(draw(st.integers(0, 2))):
        subscription_id, product = 7000 + n, 50 + n
        email = draw(st.sampled_from(EMAILS))
        created = _day(draw, 120)
        price = draw(st.integers(5, 60))
        charges = draw(st.lists(st.integers(1, 5), min_size=1, max_size=2, unique=True))
        for count in sorted(charges):
            status = draw(st.sampled_from(["Active", "Canceled"]))
            exported.append(
                [
                    str(subscription_id),
                    "First",
                    "Last",
                    email,
                    str(product),
                    f"Plan {product}",
                    status,
                    us_date(created),
                    "",
                    f"${price}.00",
                    "Monthly",
                    str(count),
                    f"${price * count}.00",
                ]
            )
        checkouts.append(order_row(3000 + n, us_date(created), product, price, email))
        for charge in range(1, max(charges) + draw(st.integers(0, 1))):
            if draw(st.booleans()):
                at = dt.datetime.combine(
                    created + dt.timedelta(days=30 * charge + draw(st.integers(-3, 3))),
                    dt.time(9),
                )
                body = webhook(
                    "RecurringPaymentSucceeded",
                    3000 + n,
                    product,
                    price,
                    email,
                    order={"subscription_id": subscription_id},
                    transaction_id=f"ch_{subscription_id}_{charge}",
                )
                hooks.append((body, at))
    return exported, checkouts, hooks


def write_subscriptions(path: Path, rows: list[list[str]]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUBSCRIPTION_HEADER)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def overlapping_parts(draw, items: list, most: int, overlap: bool = True) -> list[list]:
    """`items` cut into 1..most consecutive parts, together holding every item; with `overlap`
    each may start before the previous one ended (overlapping exports)."""
    if not items:
        return []
    count = draw(st.integers(1, min(most, len(items))))
    cuts = (
        sorted(
            draw(
                st.lists(
                    st.integers(1, len(items) - 1),
                    min_size=count - 1,
                    max_size=count - 1,
                    unique=True,
                )
            )
        )
        if count > 1
        else []
    )
    bounds = [0, *cuts, len(items)]
    return [
        items[start - draw(st.integers(0, start if overlap else 0)) : end]
        for start, end in itertools.pairwise(bounds)
    ]
