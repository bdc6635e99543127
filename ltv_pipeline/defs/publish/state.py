"""Writing the pipeline's state beside the published snapshot (ltv_core/published_reports.py), so
the report page can say that its numbers are stale instead of showing old ones silently.

- Every raw asset (a file, a webhook day) says "pending" when it has taken in new input.
- Every model, mart and publish step says "building" when it starts, and "failed" (with the
  error's first line) when it raises.
- `published_reports` says "up to date" when it has written the snapshot, with the time of the
  newest input the model it was built from had taken in.
- A run killed mid-step raises nothing: the orphaned-runs sensor marks it failed, and the run
  failure sensor below turns a "building" left behind into "failed".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)

from ltv_core.published_reports import (
    BUILDING,
    FAILED,
    PENDING,
    UP_TO_DATE,
    enter_state,
    read_state,
)
from ltv_pipeline.defs.model.automation import MARTS_GROUP, MODEL_GROUP
from ltv_pipeline.defs.resources import LtvSettings

# The model step writes its four tables at once; this one stands for the step.
MODEL_KEY = AssetKey("transactions")


@contextmanager
def rebuilding(published_dir: Path) -> Iterator[None]:
    """Say "building" for the step's duration, and "failed" with the reason if it raises."""
    enter_state(published_dir, BUILDING)
    try:
        yield
    except Exception as exc:
        enter_state(published_dir, FAILED, error=f"{type(exc).__name__}: {exc}")
        raise


def new_input_taken_in(published_dir: Path) -> None:
    """A raw partition changed: the snapshot is behind until the model and marts rebuild. A
    rebuild running or failed is the more useful thing to show, so it stays."""
    current = read_state(published_dir)
    if current is None or current.state == UP_TO_DATE:
        enter_state(published_dir, PENDING)


def newest_input_included(instance: DagsterInstance, raw_keys: list[AssetKey]) -> str | None:
    """When the newest raw input that the latest model build read was taken in (ISO, UTC):
    asset events share one sequence of storage ids, so the raw materializations before the
    model's are the ones it read."""
    records = instance.get_asset_records([MODEL_KEY])
    built = records[0].asset_entry.last_materialization_storage_id if records else None
    if built is None:
        return None
    times = [
        record.timestamp
        for key in raw_keys
        for record in instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, before_storage_id=built), limit=1
        ).records
    ]
    if not times:
        return None
    return datetime.fromtimestamp(max(times), UTC).isoformat(timespec="seconds")


def _rebuilds(context: RunFailureSensorContext) -> bool:
    """The failed run built the model, a mart or the published snapshot."""
    selection = context.dagster_run.asset_selection or set()
    groups = {MODEL_GROUP, MARTS_GROUP}
    graph = context.repository_def.asset_graph if context.repository_def else None
    if graph is None:
        return False
    return any(graph.has(key) and graph.get(key).group_name in groups for key in selection)


def _failure_reason(context: RunFailureSensorContext) -> str:
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        if error is not None:
            return f"{error.cls_name}: {error.message}"
    return context.failure_event.message or "the run failed"


@run_failure_sensor(
    name="rebuild_failure_sensor",
    monitor_all_code_locations=True,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
    description="Marks the published reports' state failed when a model or marts run died "
    "without saying so itself (killed, or marked failed as orphaned).",
)
def rebuild_failure_sensor(context: RunFailureSensorContext, ltv_settings: LtvSettings) -> None:
    published_dir = ltv_settings.settings.published_dir
    current = read_state(published_dir)
    # A step that raised has said "failed" already; a later run may have rebuilt since.
    if current is None or current.state != BUILDING or not _rebuilds(context):
        return
    enter_state(published_dir, FAILED, error=_failure_reason(context))
