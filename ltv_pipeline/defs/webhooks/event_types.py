"""SamCart event types: the `type` values seen in bodies and the rule (trigger) names users see.

SamCart documents the trigger names but not the body's `type` values (see samcart-formats.md), so
both spellings map to one canonical type. A type not listed here is kept as it came.
"""

from __future__ import annotations

from ltv_pipeline.lib.sql_parsing import normalize_label

EVENT_TYPES: dict[str, list[str]] = {
    "Order": ["Order", "Product Purchased", "Purchase", "New Order", "order_created"],
    "RecurringPaymentSucceeded": [
        "RecurringPaymentSucceeded",
        "recurring_payment_succeeded",
        "Subscription Charged",
        "Subscription Payment Succeeded",
        "Rebill",
    ],
    "Refund": ["Refund", "Product Refunded", "Refunded", "Full Refund"],
    "PartialRefund": [
        "PartialRefund",
        "partial_refund",
        "Product Partially Refunded",
        "Partially Refunded",
    ],
    "Cancel": [
        "Cancel",
        "Subscription Canceled",
        "Subscription Cancelled",
        "Canceled",
        "Cancelled",
        "Cancellation",
    ],
    "RecurringPaymentFailed": [
        "RecurringPaymentFailed",
        "recurring_payment_failed",
        "Subscription Delinquent",
        "Subscription Payment Failed",
    ],
    "RecurringPaymentRecovered": ["RecurringPaymentRecovered", "recurring_payment_recovered"],
    "SubscriptionRestarted": ["SubscriptionRestarted", "Subscription Restarted"],
    "SubscriptionRecovered": ["SubscriptionRecovered", "Subscription Recovered"],
}
# Types that carry money: without an amount they cannot count toward LTV.
MONEY_EVENT_TYPES = ("Order", "RecurringPaymentSucceeded", "Refund", "PartialRefund")


def event_type_spellings() -> dict[str, str]:
    """normalised spelling -> canonical type, in the shape vocabulary_sql expects."""
    return {
        normalize_label(spelling): canonical
        for canonical, spellings in EVENT_TYPES.items()
        for spelling in spellings
    }
