"""Today's activity of the demo business as SamCart webhook bodies (the "Notify URL" POSTs).

The exports end yesterday; these deliveries are what SamCart sends today: new orders (one
delivery per product line, bumps included), subscription rebills due now, failed charges,
cancellations and refunds of recent orders.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from ltv_pipeline.demo.business import BUMPS, FRONT_END, Business, Customer, Product


def _customer(c: Customer) -> dict[str, Any]:
    return {
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "phone_number": c.phone,
        "billing_city": c.city,
        "billing_state": c.state,
        "billing_zip": c.zip,
        "billing_country": "US",
    }


def _body(
    kind: str,
    customer: Customer,
    order_id: int,
    product: Product,
    price: Decimal,
    transaction: str,
    subscription_id: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": kind,
        "api_key": "",
        "customer": _customer(customer),
        "order": {
            "id": order_id,
            "total": f"{price:.2f}",
            "subscription_id": subscription_id,
            "stripe_id": transaction,
            "ip_address": "203.0.113.10",
            "coupon": "",
        },
        "product": {
            "id": int(product.id),
            "name": product.name,
            "price": f"{price:.2f}",
            "quantity": 1,
            "transaction_id": transaction,
        },
        "affiliate": {"id": None},
        **extra,
    }


def demo_deliveries(business: Business, count: int, seed: int) -> list[dict[str, Any]]:
    """Up to `count` webhook bodies for today, shuffled as real deliveries arrive."""
    rng = random.Random(seed + 1)
    bodies: list[dict[str, Any]] = []
    next_order = 200_000_000
    one_time = [p for p, _ in FRONT_END if p.kind == "one_time" and p.price > 0]

    def transaction() -> str:
        return "ch_wh" + "".join(rng.choices("0123456789ABCDEF", k=12))

    for customer in business.customers:
        for sub in customer.subscriptions:
            if sub.status != "Active" or sub.product.frequency != "Monthly":
                continue
            if rng.random() < 0.08:  # due about now: charged, or declined
                kind = (
                    "RecurringPaymentFailed"
                    if rng.random() < 0.15
                    else ("RecurringPaymentSucceeded")
                )
                next_order += 1
                bodies.append(
                    _body(
                        kind,
                        customer,
                        next_order,
                        sub.product,
                        sub.product.price,
                        transaction(),
                        sub.id,
                    )
                )
            elif sub.product.kind == "recurring" and rng.random() < 0.01:
                bodies.append(
                    _body(
                        "Cancel", customer, sub.order_id, sub.product, sub.product.price, "", sub.id
                    )
                )
    for customer in business.customers[-400:]:
        for line in customer.lines:
            recent = (business.today - line.at.date()).days <= 30
            if recent and line.status == "Charged" and line.price > 0 and rng.random() < 0.04:
                bodies.append(
                    _body(
                        "Refund",
                        customer,
                        line.order_id,
                        line.product,
                        line.price,
                        line.transaction_id,
                        refund_transaction_id=transaction(),
                    )
                )
    # New customers today: first orders with bumps, one delivery per product line.
    n = 0
    while len(bodies) < count:
        customer = Customer(
            "Demo",
            f"Buyer{n}",
            f"today.buyer.{n}@example.com",
            "+1 555 0199",
            "Austin",
            "TX",
            "73301",
        )
        n += 1
        next_order += 1
        product = rng.choice(one_time)
        bodies.append(_body("Order", customer, next_order, product, product.price, transaction()))
        if rng.random() < 0.4:
            bump = rng.choice(BUMPS)
            bodies.append(_body("Order", customer, next_order, bump, bump.price, transaction()))
    rng.shuffle(bodies)
    return bodies[:count]
