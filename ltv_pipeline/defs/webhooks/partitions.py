"""Webhook days: one partition per local day on which a delivery was first received.

The partitions are dynamic, added when a day gets its first delivery (by the webhook sensor, or
by `ltv materialize`), so the Dagster UI never lists days without deliveries as "missing". Keys
are ISO days (YYYY-MM-DD) in LTV_TIMEZONE, as they were when the partitions were daily.
"""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetKey, DagsterInstance, DynamicPartitionsDefinition

WEBHOOK_EVENTS_ASSET = "raw_samcart_webhook_events"
WEBHOOK_DAYS = DynamicPartitionsDefinition(name=f"{WEBHOOK_EVENTS_ASSET}_days")


def unregistered_webhook_days(instance: DagsterInstance, days: Iterable[str]) -> list[str]:
    """The days (ISO) that are not yet partitions, in order."""
    known = set(instance.get_dynamic_partitions(WEBHOOK_DAYS.name))
    return sorted(set(days) - known)


def register_webhook_days(instance: DagsterInstance, days: Iterable[str]) -> None:
    """Make each day a partition (once); a home whose days were daily partitions keeps the days
    it had materialized, which are registered here the first time anything registers a day."""
    wanted = set(days)
    if not instance.get_dynamic_partitions(WEBHOOK_DAYS.name):
        wanted |= instance.get_materialized_partitions(AssetKey(WEBHOOK_EVENTS_ASSET))
    new = unregistered_webhook_days(instance, wanted)
    if new:
        instance.add_dynamic_partitions(WEBHOOK_DAYS.name, new)
