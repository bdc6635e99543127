"""The pandera contract of raw_samcart_webhook_events: what parsing promises downstream.

Keys present and unique per (account, delivery, line); a known-or-kept event type; money as exact
two-decimal numbers; an email that is a folded address, present on every event of a known type
(an event of a type the model does not use is kept without one); lines numbered within their
count.
"""

from __future__ import annotations

from collections.abc import Collection

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from ltv_pipeline.contracts.raw_files import EMAIL_REGEX, MONEY_DTYPE

FOLDED_EMAIL_REGEX = r"^[^@\sA-Z]+@[^@\sA-Z]+$"


def _present_for_known_types(known_types: Collection[str]) -> pa.Check:
    def check(data: PolarsData) -> pl.LazyFrame:
        known = pl.col("event_type").is_in(list(known_types))
        return data.lazyframe.select(pl.col(data.key).is_not_null() | ~known)

    return pa.Check(check, name="present_for_known_event_types")


def webhook_events_schema(known_types: Collection[str]) -> pa.DataFrameSchema:
    text = pa.Column(pl.Utf8, nullable=True)
    return pa.DataFrameSchema(
        {
            "account": pa.Column(pl.Utf8, pa.Check.str_length(min_value=1)),
            "delivery_hash": pa.Column(pl.Utf8, pa.Check.str_length(64, 64)),
            "line_index": pa.Column(pl.Int32, pa.Check.ge(1)),
            "line_count": pa.Column(pl.Int32, pa.Check.ge(1)),
            "received_at": pa.Column(pl.Datetime("us"), nullable=False),
            "received_day": pa.Column(pl.Date, nullable=False),
            "event_type": pa.Column(pl.Utf8, pa.Check.str_length(min_value=1)),
            "raw_type": pa.Column(pl.Utf8, pa.Check.str_length(min_value=1)),
            "order_id": text,
            "product_id": text,
            "product_name": text,
            "subscription_id": text,
            "transaction_id": text,
            "refund_transaction_id": text,
            "amount": pa.Column(MONEY_DTYPE, nullable=True),
            "order_total": pa.Column(MONEY_DTYPE, nullable=True),
            "quantity": pa.Column(pl.Int32, pa.Check.ge(0), nullable=True),
            "customer_email": pa.Column(
                pl.Utf8,
                [
                    pa.Check.str_matches(EMAIL_REGEX),
                    pa.Check.str_matches(FOLDED_EMAIL_REGEX),
                    _present_for_known_types(known_types),
                ],
                nullable=True,
            ),
            "customer_first_name": text,
            "customer_last_name": text,
            "customer_phone": text,
            "affiliate": text,
            "coupon": text,
        },
        unique=["account", "delivery_hash", "line_index"],
        strict=True,
        name="raw_samcart_webhook_events_contract",
    )


def webhook_contract_failures(frame: pl.DataFrame, known_types: Collection[str]) -> pl.DataFrame:
    """Failure cases (column, check, failure_case, index); empty when the frame is valid."""
    try:
        webhook_events_schema(known_types).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return errors.failure_cases
    return pl.DataFrame(
        schema={"failure_case": pl.Utf8, "column": pl.Utf8, "check": pl.Utf8, "index": pl.Int32}
    )
