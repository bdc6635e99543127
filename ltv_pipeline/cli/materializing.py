"""Headless materialization in this process, recorded in the same Dagster instance as the UI."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from dataclasses import dataclass

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    AssetsDefinition,
    AssetSelection,
    DagsterError,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    DynamicPartitionsDefinition,
    materialize,
)
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.errors import DagsterInvalidSubsetError

from ltv_core.disk_full import DiskFull, is_disk_full_text
from ltv_core.formats.profiles import load_catalog
from ltv_core.quarantine import parse_failures
from ltv_core.settings import Settings, get_settings
from ltv_pipeline.contracts.left_out import LeftOut, left_out_partitions
from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.predictions.automation import PREDICTIONS_GROUP
from ltv_pipeline.defs.raw_files.partitions import file_partitions, unregistered_archived_files
from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_EVENTS_ASSET, register_webhook_days
from ltv_pipeline.lib.full_rebuild import FULL_REBUILD_TAGS
from ltv_pipeline.lib.run_owners import owner_tags
from ltv_pipeline.lib.webhook_import import DIGEST_METADATA, day_digests, import_landed
from ltv_pipeline.metrics.customer_key import built_customer_key_rules
from ltv_pipeline.metrics.predictive.tables import FITS_TABLE
from ltv_pipeline.warehouse.connection import WarehouseBusy, open_warehouse


@dataclass(frozen=True)
class RunOutcome:
    asset: str
    partition: str | None
    success: bool
    error: str | None = None

    def describe(self) -> str:
        where = f" [{self.partition}]" if self.partition else ""
        status = "ok" if self.success else f"FAILED: {self.error}"
        return f"{self.asset}{where}: {status}"


def _definitions() -> Definitions:
    """Built once per command (a materialize plans and runs several times over them), and again
    only if the settings they are built from changed (tests run several homes in one process)."""
    ltv_environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("LTV_")))
    return _definitions_for(ltv_environment)


@functools.cache
def _definitions_for(ltv_environment: tuple[tuple[str, str], ...]) -> Definitions:
    return build_definitions()


def _assets_by_key() -> tuple[dict[AssetKey, AssetsDefinition], dict]:
    defs = _definitions()
    assets = {
        key: assets_def
        for assets_def in defs.assets or []
        if isinstance(assets_def, AssetsDefinition)
        for key in assets_def.keys
    }
    return assets, dict(defs.resources or {})


def _error_text(result) -> str:
    texts = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            error = event.step_failure_data.error
            while error is not None:
                texts.append(error.message.strip())
                error = error.cause
    return " | ".join(texts) or "the run failed"


def materialize_one(
    instance: DagsterInstance, asset_key: AssetKey, partition_key: str | None, full: bool = False
) -> RunOutcome:
    """Run one asset (one partition) to completion; a held warehouse raises WarehouseBusy.
    `full` tags the run so that the model (and any step maintained incrementally) rebuilds
    from scratch."""
    return materialize_together(instance, [asset_key], partition_key, full)[0]


def materialize_together(
    instance: DagsterInstance,
    asset_keys: list[AssetKey],
    partition_key: str | None = None,
    full: bool = False,
) -> list[RunOutcome]:
    """Run these assets (of one partition, or unpartitioned) as one Dagster run, upstream
    first: the model, every mart and the published reports cost one run's start-up, not one
    each. One outcome per asset, in the order given; an asset not run because a step before it
    failed says so."""
    assets, resources = _assets_by_key()
    definitions = list({id(assets[key]): assets[key] for key in asset_keys}.values())
    webhook_days = [key for key in asset_keys if key.to_user_string() == WEBHOOK_EVENTS_ASSET]
    if webhook_days and partition_key is not None:
        register_webhook_days(instance, [partition_key])
    result = materialize(
        definitions,
        instance=instance,
        partition_key=partition_key,
        resources=resources,
        raise_on_error=False,
        # The CLI reports outcomes itself; Dagster's step logs stay in the run history.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        tags={
            "ltv/launched_by": "cli",
            **owner_tags(get_settings().run_owners_dir),
            **(FULL_REBUILD_TAGS if full else {}),
        },
    )
    if result.success:
        return [RunOutcome(k.to_user_string(), partition_key, True) for k in asset_keys]
    error = _error_text(result)
    if "warehouse busy" in error:
        raise WarehouseBusy(error)
    home = get_settings().home
    if is_disk_full_text(error, home):
        raise DiskFull(home)
    built = {event.asset_key for event in result.get_asset_materialization_events()}
    return [
        RunOutcome(key.to_user_string(), partition_key, True)
        if key in built
        else RunOutcome(key.to_user_string(), partition_key, False, error)
        for key in asset_keys
    ]


def register_archived_files(instance: DagsterInstance, settings: Settings) -> None:
    """Make sure every archived file has its partition, even if the tick that took it died."""
    catalog = load_catalog(settings.formats_config_path)
    for profile, key, _ in unregistered_archived_files(instance, catalog, settings.archive_dir):
        instance.add_dynamic_partitions(file_partitions(profile).name, [key])


def selected_keys(selection: str, graph: BaseAssetGraph) -> set[AssetKey]:
    """The assets a Dagster selection string names; a precise error when none, naming an asset
    the selection knows by a former name."""
    why = ""
    try:
        keys = AssetSelection.from_string(selection).resolve(graph)
    except DagsterInvalidSubsetError:  # it names an asset that does not exist
        keys = set()
    except DagsterError as exc:  # not a selection at all
        keys, why = set(), f" ({str(exc).strip().splitlines()[0]})"
    if keys:
        return keys
    renamed = [
        f"{former} is now called {profile.asset}"
        for profile in load_catalog().profiles.values()
        for former in profile.former_assets
        if re.search(rf"\b{former}\b", selection)
    ]
    hint = f" ({'; '.join(renamed)})" if renamed else ""
    raise ValueError(
        f"the selection {selection!r} matches no asset{hint}{why}; "
        "expected an asset name, key:<name> or group:<name>, e.g. group:ltv_marts"
    )


def plan(
    instance: DagsterInstance, selection: str | None, settings: Settings, full: bool = False
) -> list[tuple[AssetKey, str | None]]:
    """What to run: a selection means every partition of it; none means whatever is missing.
    `full` adds the unified model and every mart, built from scratch whatever is due: the way to
    check that what incremental runs maintain equals a rebuild. Raw partitions are not re-parsed
    by it; a selection asks for that."""
    assets, _ = _assets_by_key()
    register_archived_files(instance, settings)
    graph = _definitions().resolve_asset_graph()
    keys = selected_keys(selection, graph) if selection else set(assets)
    if full:
        keys |= {key for key, assets_def in assets.items() if assets_def.partitions_def is None}
    # Files that failed while parsed were quarantined once; retrying them would fail the same way.
    set_aside = {f.partition_key for f in parse_failures(settings.parse_failures_dir)}
    work: list[tuple[AssetKey, str | None]] = []
    planned: set[AssetKey] = set()  # every key a run in `work` will write
    rule_changed = not selection and customer_key_rule_changed(settings)
    # Upstream first: raw partitions, then the unified model, then the marts built on it.
    order = {key: index for index, key in enumerate(graph.toposorted_asset_keys)}
    for key in sorted(keys, key=lambda k: (order.get(k, len(order)), k.to_user_string())):
        partitions_def = assets[key].partitions_def
        if partitions_def is None:
            if key in planned:
                continue  # one run per definition: the model's four tables are one step
            if graph.get(key).group_name == PREDICTIONS_GROUP and not (full or selection):
                # A fit covers every customer: at most daily, never per new file. What is made
                # from a fit follows it, though: a run killed after the fit left the rest made
                # from the fit before, under the new fit's date.
                fitted_from = {
                    parent
                    for parent in graph.get(key).parent_keys
                    if graph.get(parent).group_name == PREDICTIONS_GROUP
                }
                if (
                    prediction_due(instance, key)
                    or fitted_from & planned
                    or built_before_its_inputs(instance, key, fitted_from)
                ):
                    planned.add(key)
                    work.append((key, None))
                continue
            outside = graph.get(key).parent_keys - set(assets[key].keys)
            if (
                full
                or selection
                or rule_changed
                or outside & planned
                or built_before_its_inputs(instance, key, outside)
            ):
                planned |= set(assets[key].keys)
                work.append((key, None))  # the model and marts follow any new raw data
            continue
        digests: dict[str, str] = {}
        if key.to_user_string() == WEBHOOK_EVENTS_ASSET:
            digests = webhook_day_digests(settings)
            register_webhook_days(instance, digests)
        if isinstance(partitions_def, DynamicPartitionsDefinition):
            partition_keys = instance.get_dynamic_partitions(partitions_def.name)
        else:
            partition_keys = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
        if key.to_user_string() == WEBHOOK_EVENTS_ASSET:
            # Webhook days keep growing: a selection rebuilds every day that has deliveries,
            # otherwise only the days whose deliveries changed since they were last built (an
            # empty day has nothing to rebuild, selected or not).
            if not selection:
                built = built_day_digests(instance, key, set(digests))
                digests = {d: v for d, v in digests.items() if built.get(d) != v}
            partition_keys = [p for p in partition_keys if p in digests]
        elif not selection:
            done = instance.get_materialized_partitions(key)
            partition_keys = [p for p in partition_keys if p not in done]
        partition_keys = [p for p in partition_keys if p not in set_aside]
        work += [(key, p) for p in partition_keys]
        if partition_keys:
            planned.add(key)
    return work


PREDICTIONS_MAX_AGE = dt.timedelta(hours=24)


def latest_materialization_time(instance: DagsterInstance, key: AssetKey) -> dt.datetime | None:
    event = instance.get_latest_materialization_event(key)
    return None if event is None else dt.datetime.fromtimestamp(event.timestamp, dt.UTC)


def prediction_due(instance: DagsterInstance, key: AssetKey) -> bool:
    """Never built, or built more than a day ago."""
    built = latest_materialization_time(instance, key)
    return built is None or dt.datetime.now(dt.UTC) - built > PREDICTIONS_MAX_AGE


def predictions_note(instance: DagsterInstance, work: list[tuple[AssetKey, str | None]]) -> str:
    """One line when `ltv materialize` left the predictions as they are: from when, and why."""
    assets, _ = _assets_by_key()
    graph = _definitions().resolve_asset_graph()
    keys = [k for k in assets if graph.get(k).group_name == PREDICTIONS_GROUP]
    if not keys or any(key in keys for key, _ in work):
        return ""
    fits = next(k for k in keys if k.to_user_string() == FITS_TABLE)
    built = latest_materialization_time(instance, fits)
    if built is None:
        return ""
    return (
        f"predictions are from {built:%Y-%m-%d %H:%M} UTC and refresh daily "
        "(`ltv materialize --full` refits them now)"
    )


def built_before_its_inputs(
    instance: DagsterInstance, key: AssetKey, inputs: set[AssetKey]
) -> bool:
    """Never built, or some input (any partition of it) was materialized after it last was:
    whoever materialized that input (`ltv import`, a sensor's run, the UI), the asset follows.
    Asset events share one sequence of storage ids in the instance, so ids order them."""
    records = {
        record.asset_entry.asset_key: record.asset_entry.last_materialization_storage_id
        for record in instance.get_asset_records([key, *inputs])
    }
    built = records.get(key)
    if built is None:
        return True
    return any((records.get(upstream) or 0) > built for upstream in inputs)


def customer_key_rule_changed(settings: Settings) -> bool:
    """The model was built under another LTV_CUSTOMER_KEY than the one set now."""
    if not settings.warehouse_path.exists():
        return False
    conn = open_warehouse(settings, read_only=True)
    try:
        built = built_customer_key_rules(conn)
    finally:
        conn.close()
    return bool(built) and built != {settings.customer_key_rule}


def left_out_of_model(settings: Settings) -> list[LeftOut]:
    """The raw partitions the model is built without: their contract check failed."""
    if not settings.warehouse_path.exists():
        return []
    conn = open_warehouse(settings, read_only=True)
    try:
        return left_out_partitions(conn)
    finally:
        conn.close()


def webhook_days_with_data(settings: Settings) -> list[str]:
    """Import what the sidecar sealed (or a killed sidecar left), then list its local days."""
    return sorted(webhook_day_digests(settings))


def webhook_day_digests(settings: Settings) -> dict[str, str]:
    """Import what the sidecar sealed (or a killed sidecar left), then digest each local day."""
    conn = open_warehouse(settings)
    try:
        import_landed(conn, settings.webhooks_dir)
        digests = day_digests(conn, settings.timezone)
        return {day.isoformat(): digest for day, digest in digests.items()}
    finally:
        conn.close()


def built_day_digests(instance: DagsterInstance, key: AssetKey, days: set[str]) -> dict[str, str]:
    """The deliveries digest each day's last materialization recorded (none: never built, or
    built before digests were recorded, so it is rebuilt once)."""
    latest = instance.get_latest_storage_id_by_partition(
        key, DagsterEventType.ASSET_MATERIALIZATION, days
    )
    if not latest:
        return {}
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, storage_ids=list(latest.values())), limit=len(latest)
    ).records
    built = {}
    for record in records:
        materialization = record.asset_materialization
        entry = materialization.metadata.get(DIGEST_METADATA) if materialization else None
        if entry is not None and materialization.partition is not None:
            built[materialization.partition] = entry.value
    return built
