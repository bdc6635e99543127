"""A made-up SamCart seller, generated deterministically from a seed.

About 18 months of history ending yesterday: one-time front-end offers (one of them free), order
bumps on the same order, upsells as a second order on the same day, later repeat purchases,
recurring memberships (monthly and yearly), a 3-pay coaching plan, refunds, partial refunds and
declined charges. Customers arrive at a growing rate, as a business that advertises does.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

HISTORY_DAYS = 540
FIRST_NAMES = (
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
    "Hedy",
    "Tim",
    "Joan",
    "Guido",
    "Sophie",
    "John",
    "Annie",
)
LAST_NAMES = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Lamarr",
    "Berners-Lee",
    "Clarke",
    "Rossum",
    "Wilson",
    "McCarthy",
    "Easley",
)
DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "inbox.example")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: Decimal
    kind: str = "one_time"  # one_time | recurring | plan
    frequency: str = "Monthly"
    plan_payments: int = 0


FRONT_END = (  # (product, weight)
    (Product("55501", "Launch Course", Decimal("97.00")), 40),
    (Product("55504", "Free Masterclass", Decimal("0.00")), 20),
    (Product("55505", "Mini Workshop", Decimal("27.00")), 15),
    (Product("55502", "Inner Circle Membership", Decimal("29.00"), "recurring"), 12),
    (Product("55520", "Annual Insider", Decimal("297.00"), "recurring", "Yearly"), 4),
    (Product("55530", "Coaching (3 pay)", Decimal("300.00"), "plan", "Monthly", 3), 9),
)
BUMPS = (
    Product("55503", "Swipe File, Vol. 1", Decimal("17.00")),
    Product("55506", "Templates Pack", Decimal("27.00")),
)
UPSELL = Product("55510", "VIP Upgrade", Decimal("197.00"))
REPEAT = (
    Product("55501", "Launch Course", Decimal("97.00")),
    Product("55511", "Advanced Course", Decimal("197.00")),
    Product("55505", "Mini Workshop", Decimal("27.00")),
)


@dataclass
class Line:
    order_id: int
    at: dt.datetime
    status: str  # Charged | Refunded | Partially Refunded | Declined
    product: Product
    price: Decimal
    subscription_id: int | None = None
    transaction_id: str = ""


@dataclass
class Subscription:
    id: int
    product: Product
    started: dt.date
    status: str
    charges_made: int
    failed_charges: int
    canceled: dt.date | None
    order_id: int


@dataclass
class Customer:
    first_name: str
    last_name: str
    email: str
    phone: str
    city: str
    state: str
    zip: str
    lines: list[Line] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)


@dataclass
class Business:
    customers: list[Customer]
    today: dt.date

    def lines(self) -> list[Line]:
        return sorted((ln for c in self.customers for ln in c.lines), key=lambda ln: ln.order_id)


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    days_in = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return dt.date(year, month, min(day.day, days_in))


def charge_day(start: dt.date, frequency: str, number: int) -> dt.date:
    """Charge `number` (0 = the first) of a schedule, as the pipeline rebuilds it."""
    return add_months(start, 12 * number if frequency == "Yearly" else number)


class _Builder:
    def __init__(self, rng: random.Random, today: dt.date) -> None:
        self.rng = rng
        self.today = today
        self.next_order = 100_300_000
        self.next_subscription = 70_000

    def order_id(self) -> int:
        self.next_order += self.rng.randint(1, 3)
        return self.next_order

    def transaction(self) -> str:
        return "ch_" + "".join(self.rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=14))

    def status(self, price: Decimal) -> str:
        roll = self.rng.random()
        if price > 0 and roll < 0.05:
            return "Refunded"
        if price > 0 and roll < 0.065:
            return "Partially Refunded"
        return "Charged"

    def first_day(self) -> dt.date:
        # Growth: later days are likelier (density rises linearly across the history).
        offset = int(HISTORY_DAYS * (self.rng.random() ** 0.6))
        return self.today - dt.timedelta(days=HISTORY_DAYS - offset)

    def moment(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(
            day, dt.time(self.rng.randint(6, 22), self.rng.randint(0, 59), self.rng.randint(0, 59))
        )

    def customer(self, n: int) -> Customer:
        first = self.rng.choice(FIRST_NAMES)
        last = self.rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{n}@{self.rng.choice(DOMAINS)}".lower()
        return Customer(
            first,
            last,
            email,
            f"+1 555 {self.rng.randint(1000, 9999)}",
            self.rng.choice(["Austin", "Denver", "Boston", "Portland", "Miami", "Chicago"]),
            self.rng.choice(["TX", "CO", "MA", "OR", "FL", "IL"]),
            f"{self.rng.randint(10000, 99999)}",
        )

    def subscribe(self, customer: Customer, product: Product, start: dt.date, order_id: int) -> int:
        """A subscription or plan from `start`, its state as of today."""
        sub_id = self.next_subscription = self.next_subscription + 1
        due = 0
        while charge_day(start, product.frequency, due) < self.today:
            due += 1
        if product.kind == "plan":
            due = min(due, product.plan_payments)
        status, canceled, failed, made = "Active", None, 0, due
        roll = self.rng.random()
        if product.kind == "recurring":
            # Monthly churn: a member stays each month with probability 0.88.
            lasted = 1
            while lasted < due and self.rng.random() < 0.88:
                lasted += 1
            if lasted < due:
                made = lasted
                if roll < 0.25:
                    status, failed = "Delinquent", 4
                else:
                    status = "Canceled"
                    canceled = charge_day(start, product.frequency, lasted) - dt.timedelta(days=3)
        else:
            if roll < 0.12 and due >= 2:
                made, status, failed = self.rng.randint(1, due - 1), "Delinquent", 4
            elif roll < 0.17 and due >= 2:
                made, status = 1, "Canceled"
                canceled = charge_day(start, product.frequency, 1) - dt.timedelta(days=2)
            elif made >= product.plan_payments:
                status = "Completed"
        customer.subscriptions.append(
            Subscription(sub_id, product, start, status, max(made, 1), failed, canceled, order_id)
        )
        return sub_id

    def build(self, count: int) -> Business:
        customers = []
        weights = [w for _, w in FRONT_END]
        for n in range(count):
            customer = self.customer(n)
            day = self.first_day()
            at = self.moment(day)
            product = self.rng.choices([p for p, _ in FRONT_END], weights)[0]
            if self.rng.random() < 0.03:  # a declined first attempt, then the card works
                customer.lines.append(
                    Line(
                        self.order_id(),
                        at - dt.timedelta(minutes=4),
                        "Declined",
                        product,
                        product.price,
                    )
                )
            order = self.order_id()
            sub_id = None
            if product.kind != "one_time":
                sub_id = self.subscribe(customer, product, day, order)
            status = self.status(product.price) if product.kind == "one_time" else "Charged"
            customer.lines.append(
                Line(order, at, status, product, product.price, sub_id, self.transaction())
            )
            if product.kind == "one_time" and self.rng.random() < 0.35:
                bump = self.rng.choice(BUMPS)
                customer.lines.append(
                    Line(
                        order,
                        at,
                        self.status(bump.price),
                        bump,
                        bump.price,
                        None,
                        self.transaction(),
                    )
                )
            if product.kind == "one_time" and self.rng.random() < 0.15:
                customer.lines.append(
                    Line(
                        self.order_id(),
                        at + dt.timedelta(minutes=3),
                        self.status(UPSELL.price),
                        UPSELL,
                        UPSELL.price,
                        None,
                        self.transaction(),
                    )
                )
            if self.rng.random() < 0.2:
                later = day + dt.timedelta(days=self.rng.randint(3, 200))
                if later < self.today:
                    repeat = self.rng.choice(REPEAT)
                    customer.lines.append(
                        Line(
                            self.order_id(),
                            self.moment(later),
                            self.status(repeat.price),
                            repeat,
                            repeat.price,
                            None,
                            self.transaction(),
                        )
                    )
            customers.append(customer)
        return Business(customers, self.today)


def build_business(customers: int, seed: int, today: dt.date | None = None) -> Business:
    """The same seed and day give the same business, byte for byte."""
    return _Builder(random.Random(seed), today or dt.date.today()).build(customers)
