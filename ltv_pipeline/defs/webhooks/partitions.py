"""Daily partitions by the local day a delivery was first received, today included."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from ltv_core.settings import Settings

WEBHOOK_EVENTS_ASSET = "raw_samcart_webhook_events"


def webhook_day_partitions(settings: Settings) -> DailyPartitionsDefinition:
    # end_offset=1 makes today's (still growing) day a partition, so it can be kept fresh.
    return DailyPartitionsDefinition(
        start_date=settings.webhook_start_date, timezone=settings.timezone, end_offset=1
    )
