"""Keeps raw_samcart_webhook_events fresh while `make run` is up.

Every 30 s: if sealed landing segments are waiting (or a dead sidecar left unsealed ones), ask
for a run of each local day they hold, today included. The sensor only reads sealed segments
(read-only, never the warehouse), and skips a day that already has a run queued or running;
segments stay until imported, so a failed run is simply asked for again next tick.
"""

from __future__ import annotations

import datetime as dt

import duckdb
from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_EVENTS_ASSET
from ltv_pipeline.lib.webhook_import import local_day, segment_days
from ltv_pipeline.settings import get_settings
from ltv_webhook.segments import Layout, has_unsealed_dead_segments

IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
SOURCE_TAG = "ltv/source"


def _in_flight(context: SensorEvaluationContext, day: str) -> bool:
    runs = context.instance.get_runs(
        filters=RunsFilter(
            statuses=IN_FLIGHT, tags={"dagster/partition": day, SOURCE_TAG: "webhooks"}
        ),
        limit=1,
    )
    return bool(runs)


@sensor(
    name="webhook_sensor",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    target=[AssetKey(WEBHOOK_EVENTS_ASSET)],
    description="Materializes raw_samcart_webhook_events for each day that has new deliveries.",
)
def webhook_sensor(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    settings = get_settings()
    layout = Layout(settings.webhooks_dir)
    days: set[dt.date] = set()
    for segment in layout.sealed_segments():
        try:
            days.update(segment_days(segment, settings.timezone))
        except (duckdb.Error, FileNotFoundError):
            continue  # imported (moved) while we looked: nothing to ask for
    if layout.active.exists() and has_unsealed_dead_segments(layout):
        days.add(local_day(dt.datetime.now(dt.UTC).replace(tzinfo=None), settings.timezone))
    if not days:
        return SkipReason("no sealed webhook segments waiting")
    first = dt.date.fromisoformat(settings.webhook_start_date)
    today = local_day(dt.datetime.now(dt.UTC).replace(tzinfo=None), settings.timezone)
    requests = []
    for day in sorted(days):
        key = day.isoformat()
        if day > today:
            continue  # a clock ahead of ours; the day becomes a partition when it comes
        if day < first:
            context.log.warning(f"deliveries on {key} are before LTV_WEBHOOK_START_DATE; skipped")
            continue
        if _in_flight(context, key):
            continue
        requests.append(
            RunRequest(
                partition_key=key,
                tags={SOURCE_TAG: "webhooks"},
            )
        )
    return SensorResult(run_requests=requests)
