"""The webhook asset's day partitions: only days with deliveries exist, so the Dagster UI never
counts days without data as "missing" (it once listed every day since 2024-01-01)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dagster import AssetKey, DagsterInstance, build_sensor_context

from ltv_core.settings import Settings
from ltv_pipeline.cli.materializing import materialize_one
from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_EVENTS_ASSET, register_webhook_days
from ltv_pipeline.defs.webhooks.sensor import webhook_sensor
from ltv_pipeline.lib.webhook_import import local_day
from tests.webhooks.sidecar import event_body
from tests.webhooks.test_pipeline_units import _resources, _sealed_segment

KEY = AssetKey(WEBHOOK_EVENTS_ASSET)


def _partitions_and_missing(instance: DagsterInstance) -> tuple[list[str], list[str]]:
    """What the UI's partition bar shows: every partition, and those never materialized."""
    partitions_def = build_definitions().resolve_asset_graph().get(KEY).partitions_def
    assert partitions_def is not None
    keys = list(partitions_def.get_partition_keys(dynamic_partitions_store=instance))
    done = instance.get_materialized_partitions(KEY)
    return keys, [key for key in keys if key not in done]


def test_a_fresh_instance_has_no_webhook_days_and_one_delivery_adds_exactly_its_day(
    tmp_path: Path, monkeypatch
):
    home = tmp_path / "home"
    monkeypatch.setenv("LTV_HOME", str(home))
    instance = DagsterInstance.ephemeral()
    assert _partitions_and_missing(instance) == ([], [])

    received = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=3)
    day = local_day(received, Settings.from_env().timezone).isoformat()
    _sealed_segment(home, "y-000001.duckdb", [(event_body(1), "accepted", None)], [received])
    result = webhook_sensor(build_sensor_context(instance=instance, resources=_resources()))
    assert [r.partition_key for r in result.run_requests] == [day]
    [added] = result.dynamic_partitions_requests
    assert list(added.partition_keys) == [day]

    register_webhook_days(instance, added.partition_keys)  # what the daemon does with it
    assert _partitions_and_missing(instance) == ([day], [day])
    assert materialize_one(instance, KEY, day).success
    assert _partitions_and_missing(instance) == ([day], [])
