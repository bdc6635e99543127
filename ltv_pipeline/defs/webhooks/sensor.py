"""Keeps raw_samcart_webhook_events fresh while `make run` is up.

Every 5 s (as often as the inbox sensor: a tick only reads folders and the run storage, and
the interval is most of a delivery's wait for its run): if sealed landing segments are waiting
(or a dead sidecar left unsealed ones), ask for a run of each local day they hold, today
included. The sensor only reads segments (read-only, never the warehouse), and skips a day that
already has a run queued or running.

A run imports every sealed segment, whatever its own day, so segments can reach the warehouse
without a run of all their days (a segment spanning midnight, a recovered log of earlier days, a
run failing after its import). So the sensor also reads the import journal from its cursor: each
day of a newly imported segment stays pending in the cursor, asked for on every tick, until a run
of that day created after the segment was sealed has succeeded (such a run found the segment
sealed or imported, so it read its deliveries).
"""

import datetime as dt
import json

import duckdb
from dagster import (
    AddDynamicPartitionsRequest,
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

from ltv_core.webhook_segments import Layout, has_unsealed_dead_segments
from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.defs.webhooks.partitions import (
    WEBHOOK_DAYS,
    WEBHOOK_EVENTS_ASSET,
    register_webhook_days,
    unregistered_webhook_days,
)
from ltv_pipeline.lib.webhook_import import imported_since, local_day, segment_days

IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
SOURCE_TAG = "ltv/source"


def _days_in_flight(context: SensorEvaluationContext) -> set[str]:
    """The days with a webhook run queued or running, read before anything else on a tick: a
    run can only leave this state (for done), so a run that ends during the tick was in flight
    at its start and its day is skipped, rather than asked for again because it was no longer
    running when checked but not yet done when its segments were read (a second, empty run)."""
    runs = context.instance.get_runs(
        filters=RunsFilter(statuses=IN_FLIGHT, tags={SOURCE_TAG: "webhooks"})
    )
    return {run.tags["dagster/partition"] for run in runs if "dagster/partition" in run.tags}


def _done_since(context: SensorEvaluationContext, day: str, sealed_at: float) -> bool:
    """A run of the webhook asset for `day`, created after `sealed_at`, has succeeded."""
    runs = context.instance.get_runs(
        filters=RunsFilter(
            statuses=[DagsterRunStatus.SUCCESS],
            tags={"dagster/partition": day},
            created_after=dt.datetime.fromtimestamp(sealed_at, dt.UTC),
        ),
    )
    key = AssetKey(WEBHOOK_EVENTS_ASSET)
    return any(run.asset_selection is None or key in run.asset_selection for run in runs)


@sensor(
    name="webhook_sensor",
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    target=[AssetKey(WEBHOOK_EVENTS_ASSET)],
    description="Materializes raw_samcart_webhook_events for each day that has new deliveries.",
)
def webhook_sensor(
    context: SensorEvaluationContext, ltv_settings: LtvSettings
) -> SensorResult | SkipReason:
    flying = _days_in_flight(context)
    settings = ltv_settings.settings
    layout = Layout(settings.webhooks_dir)
    cursor = json.loads(context.cursor) if context.cursor else {}
    offset: int = cursor.get("offset", 0)
    pending: dict[str, float] = cursor.get("pending", {})
    names, offset = imported_since(layout.root, offset)
    for name in names:
        segment = layout.imported / name
        try:
            sealed_at = segment.stat().st_mtime
            for day in segment_days(segment, settings.timezone):
                pending[day.isoformat()] = max(pending.get(day.isoformat(), 0.0), sealed_at)
        except (duckdb.Error, FileNotFoundError):
            context.log.warning(f"imported segment {name} is unreadable; its days not requested")
    pending = {day: at for day, at in pending.items() if not _done_since(context, day, at)}
    new_cursor = json.dumps({"offset": offset, "pending": pending}, sort_keys=True)
    days: set[dt.date] = {dt.date.fromisoformat(day) for day in pending}
    for segment in layout.sealed_segments():
        try:
            days.update(segment_days(segment, settings.timezone))
        except (duckdb.Error, FileNotFoundError):
            continue  # imported (moved) while we looked: nothing to ask for
    if layout.active.exists() and has_unsealed_dead_segments(layout):
        days.add(local_day(dt.datetime.now(dt.UTC).replace(tzinfo=None), settings.timezone))
    if not days:
        if new_cursor != context.cursor:
            return SensorResult(skip_reason="no sealed webhook segments waiting", cursor=new_cursor)
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
            pending.pop(key, None)
            continue
        if key in flying:
            continue
        requests.append(
            RunRequest(
                partition_key=key,
                tags={SOURCE_TAG: "webhooks"},
            )
        )
    new_cursor = json.dumps({"offset": offset, "pending": pending}, sort_keys=True)
    if not context.instance.get_dynamic_partitions(WEBHOOK_DAYS.name):
        register_webhook_days(context.instance, [])  # a home from the daily partitions' time
    new_days = unregistered_webhook_days(
        context.instance, [request.partition_key for request in requests]
    )
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[AddDynamicPartitionsRequest(WEBHOOK_DAYS.name, new_days)]
        if new_days
        else None,
        cursor=new_cursor,
    )
