"""Real Dagster runs for the model tests: raw partitions as the sensors stage them, then the
unified model and the marts in one run, all against a temporary LTV_HOME."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from dagster import AssetKey, DagsterInstance, materialize

from ltv_core.archive import archive_file, partition_key_of
from ltv_core.formats.csv_file import inspect_file
from ltv_core.formats.detect import detect_format
from ltv_core.formats.profiles import load_catalog
from ltv_core.settings import Settings
from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.webhooks.partitions import register_webhook_days
from ltv_pipeline.warehouse.connection import connect_warehouse

MODEL_AND_MARTS_GROUPS = ("ltv_model", "ltv_marts")


def _run(instance: DagsterInstance, keys: list[str], partition_key: str | None = None):
    defs = build_definitions()
    wanted = {AssetKey(k) for k in keys}
    selected = [a for a in defs.assets if set(a.keys) & wanted]
    result = materialize(
        selected, instance=instance, partition_key=partition_key, resources=dict(defs.resources)
    )
    assert result.success
    return result


def import_csv(settings: Settings, instance: DagsterInstance, path: Path, account="default"):
    """Archive a file, register its partition and materialize it, as `ltv import` does."""
    inspected = inspect_file(path)
    profile = detect_format(load_catalog(), inspected.header).profile
    archive_file(
        settings.archive_dir,
        path,
        inspected.sha256,
        account=account,
        format_name=profile.name,
        file_name=path.name,
    )
    key = partition_key_of(settings.archive_dir, inspected.sha256, account)
    instance.add_dynamic_partitions(f"{profile.asset}_files", [key])
    _run(instance, [profile.asset], key)


def deliver_webhooks(
    settings: Settings,
    instance: DagsterInstance,
    bodies: list[bytes],
    received_at: dt.datetime,
    account: str = "default",
) -> None:
    """Hand deliveries over as an imported landing segment would (one row per distinct body),
    then materialize that day's partition of raw_samcart_webhook_events."""
    conn = connect_warehouse(settings.warehouse_path)
    try:
        for body in bodies:
            conn.execute(
                "INSERT INTO webhook_deliveries VALUES (?, ?, ?, 'application/json', ?, "
                "'accepted', NULL, 'test') ON CONFLICT DO NOTHING",
                [account, hashlib.sha256(body).hexdigest(), received_at, body],
            )
    finally:
        conn.close()
    day = received_at.date().isoformat()
    register_webhook_days(instance, [day])  # as the webhook sensor does
    _run(instance, ["raw_samcart_webhook_events"], day)


def build_model_and_marts(instance: DagsterInstance, groups=MODEL_AND_MARTS_GROUPS):
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    keys = [
        k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name in groups
    ]
    return _run(instance, keys)
