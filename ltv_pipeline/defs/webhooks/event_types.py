"""SamCart event types: the canonical `type` values the model understands.

Their spellings (body `type` values and the trigger names users see) are a vocabulary in
formats/samcart_formats.toml, so that a user can extend them in LTV_HOME/formats.toml like any
other SamCart spelling. A type no spelling matches is kept as it came, and the model, which
reads only the canonical types, leaves it alone.
"""

from __future__ import annotations

from ltv_core.formats.profiles import FormatCatalog

EVENT_TYPE_VOCABULARY = "webhook_event_type"
# Types that carry money: without an amount they cannot count toward LTV.
MONEY_EVENT_TYPES = ("Order", "RecurringPaymentSucceeded", "Refund", "PartialRefund")


def event_type_spellings(catalog: FormatCatalog) -> dict[str, str]:
    """normalised spelling -> canonical type, in the shape vocabulary_sql expects."""
    return catalog.spellings(EVENT_TYPE_VOCABULARY)


def known_event_types(spellings: dict[str, str]) -> frozenset[str]:
    """The canonical types of `spellings` (event_type_spellings); any other event type is one
    the model does not use."""
    return frozenset(spellings.values())


# The identity each type needs in the model: the order it belongs to, or the subscription.
ORDER_ID_EVENT_TYPES = ("Order", "Refund", "PartialRefund")
SUBSCRIPTION_ID_EVENT_TYPES = ("RecurringPaymentSucceeded", "RecurringPaymentFailed")
