"""Carrying a renamed raw asset's Dagster records over to its new name.

Dagster keys what it knows of an asset by the asset's name: its file partitions (the dynamic
partitions `<asset>_files`), which of them are materialized, and its contract check's results.
Under a new name, an existing home's files would all look never loaded: the UI would list them as
missing, and `ltv materialize` would parse every one again. So, once per home, each former name
(formats.toml's `former_assets`) hands over to the current one:

1. its file partitions are added under the new name;
2. each partition's latest materialization, and its contract check's latest result, are written
   again under the new name, with their original run and time (so the run pages and "data taken
   in up to" stay true); so is a failed latest attempt, so that the file still shows failed;
3. the former name's records are wiped, and its partitions deleted, last: a carry-over stopped
   half-way finds the rest still to do next time, and never writes a partition twice.

It runs where Dagster's instance is opened for work: each `ltv` command that loads files, and
each tick of the inbox sensor (for a daemon started any other way); with nothing left under a
former name it costs two lookups. One process carries over at a time (a lock in Dagster's
home): a sensor tick skips while another process is at it, an `ltv` command waits. The
warehouse's own rows follow in its migration 4, and the quarantine notes here.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetKey,
    AssetRecordsFilter,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.event_api import EventLogRecord
from dagster._core.events import AssetMaterializationPlannedData, StepMaterializationData
from dagster._core.events.log import EventLogEntry

from ltv_core.formats.profiles import FormatCatalog, FormatProfile
from ltv_core.quarantine import rename_asset_in_records
from ltv_pipeline.contracts.check_result import CONTRACT_CHECK
from ltv_pipeline.defs.raw_files.partitions import file_partitions, file_partitions_name

_PAGE = 1000
CARRY_OVER_LOCK = "carry_over.lock"  # in Dagster's home, shared by the daemon and `ltv`


class CarryingOverElsewhere(RuntimeError):
    """Another process is carrying the records over right now."""


def carry_over_renamed_assets(
    instance: DagsterInstance,
    catalog: FormatCatalog,
    parse_failures_dir: Path,
    say: Callable[[str], None],
    *,
    wait: bool = True,
) -> None:
    """Hand every former raw asset name's records to the current name, saying what it does
    before and after (a home of thousands of files takes minutes, once).

    One process at a time (the daemon's sensor and an `ltv` command would otherwise both write
    each partition again): `wait` for one carrying over elsewhere, or raise
    CarryingOverElsewhere."""
    if not _left_to_carry(instance, catalog):
        return  # the usual case
    with _alone(Path(instance.root_directory) / CARRY_OVER_LOCK, wait):
        for profile, former in _left_to_carry(instance, catalog):  # what the other one left
            old_partitions = instance.get_dynamic_partitions(file_partitions_name(former))
            renamed = f"{former} is now {profile.asset}"
            say(f"{renamed}: carrying {len(old_partitions)} file(s) over (once; can be stopped)")
            # The notes first: they are only renamed while Dagster still has the former name.
            rename_asset_in_records(parse_failures_dir, former, profile.asset)
            _carry_over(instance, profile, former, old_partitions)
            say(f"{renamed}: {len(old_partitions)} file(s) carried over")


def _left_to_carry(
    instance: DagsterInstance, catalog: FormatCatalog
) -> list[tuple[FormatProfile, str]]:
    """Each former name that Dagster still has partitions or records under: two lookups each."""
    return [
        (profile, former)
        for profile in catalog.profiles.values()
        for former in profile.former_assets
        if instance.get_dynamic_partitions(file_partitions_name(former))
        or instance.get_asset_records([AssetKey(former)])
    ]


@contextmanager
def _alone(lock_path: Path, wait: bool) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CarryingOverElsewhere(
                "another process is carrying Dagster's records over to the renamed assets"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _carry_over(
    instance: DagsterInstance, profile: FormatProfile, former: str, old_partitions: list[str]
) -> None:
    old_key, new_key = AssetKey(former), AssetKey(profile.asset)
    instance.add_dynamic_partitions(file_partitions(profile).name, old_partitions)
    already = instance.get_materialized_partitions(new_key)
    checks = _check_results_by_run(instance, old_key)
    checked = _check_results_by_run(instance, new_key)  # a carry-over stopped between the two
    for partition, record in _latest_materializations(instance, old_key).items():
        check = checks.get(record.run_id)
        if partition not in already:
            stored = _write_again(instance, record, new_key)
        elif check is None or record.run_id in checked:
            continue
        else:  # written again by a carry-over stopped before its check was (None: materialized
            stored = _stored_again(instance, record, new_key)  # anew since, checked anew too)
        if check is not None and stored is not None:
            _write_check_again(instance, check, new_key, stored)
    # A file whose latest load failed (quarantined, say) stays failed, not missing: the UI would
    # otherwise invite loading it again. Dagster tells a failure by a planned materialization
    # in a failed run with none after it.
    failed_here = _failed_attempts(instance, new_key)
    for partition, planned in _failed_attempts(instance, old_key).items():
        here = failed_here.get(partition)
        if here is None or here.run_id != planned.run_id:
            event = planned.dagster_event
            assert event is not None
            _report_again(instance, planned, event.event_specific_data._replace(asset_key=new_key))
    instance.wipe_assets([old_key])
    for partition in old_partitions:
        instance.delete_dynamic_partition(file_partitions_name(former), partition)


def _failed_attempts(instance: DagsterInstance, key: AssetKey) -> dict[str, EventLogEntry]:
    """Each partition's latest planned materialization that none followed, by partition (found
    in its run's log by what it plans: a run's own log numbers its events apart)."""
    storage = instance.event_log_storage
    attempts = storage.get_latest_asset_partition_materialization_attempts_without_materializations(
        key
    )
    planned: dict[str, EventLogEntry] = {}
    for partition, (run_id, _) in attempts.items():
        for record in instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        ).records:
            event = record.event_log_entry.dagster_event
            data = event.event_specific_data if event else None
            if isinstance(data, AssetMaterializationPlannedData) and (
                data.asset_key == key and data.partition == partition
            ):
                planned[partition] = record.event_log_entry
    return planned


def _latest_materializations(
    instance: DagsterInstance, key: AssetKey
) -> dict[str | None, EventLogRecord]:
    latest: dict[str | None, EventLogRecord] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key), limit=_PAGE, cursor=cursor, ascending=True
        )
        for record in page.records:
            latest[record.partition_key] = record
        if not page.has_more:
            return latest
        cursor = page.cursor


def _check_results_by_run(instance: DagsterInstance, key: AssetKey) -> dict[str, EventLogEntry]:
    """The contract check's result in each run: a run materializes one file partition and checks
    it (the evaluation itself names no partition)."""
    latest: dict[str, EventLogEntry] = {}
    cursor = None
    storage = instance.event_log_storage
    while True:
        page = storage.get_asset_check_execution_history(
            AssetCheckKey(key, CONTRACT_CHECK), limit=_PAGE, cursor=cursor
        )
        for execution in page:
            event = execution.event.dagster_event if execution.event else None
            if event is not None and isinstance(event.event_specific_data, AssetCheckEvaluation):
                latest.setdefault(execution.run_id, execution.event)
        if len(page) < _PAGE:
            return latest
        cursor = page[-1].id


def _write_again(instance: DagsterInstance, record: EventLogRecord, key: AssetKey) -> int | None:
    """The materialization again, under `key`, with its run and time; its new storage id (None
    if it is not the partition's latest there: its check then stays with the later one)."""
    entry = record.event_log_entry
    assert record.asset_materialization is not None
    materialization = record.asset_materialization._replace(asset_key=key)
    _report_again(instance, entry, StepMaterializationData(materialization))
    return _stored_again(instance, record, key)


def _stored_again(instance: DagsterInstance, record: EventLogRecord, key: AssetKey) -> int | None:
    """The storage id of `record` written again under `key`: the partition's latest
    materialization there, if it is of the same run (None when a later run materialized it)."""
    partition = record.partition_key
    latest = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None),
        limit=1,
    ).records
    if not latest or latest[0].run_id != record.run_id:
        return None
    return latest[0].storage_id


def _write_check_again(
    instance: DagsterInstance, entry: EventLogEntry, key: AssetKey, target: int
) -> None:
    event: DagsterEvent | None = entry.dagster_event
    assert event is not None and isinstance(event.event_specific_data, AssetCheckEvaluation)
    old = event.event_specific_data
    evaluation = AssetCheckEvaluation(
        asset_key=key,
        check_name=old.check_name,
        passed=old.passed,
        metadata=old.metadata,
        target_materialization_data=AssetCheckEvaluationTargetMaterializationData(
            storage_id=target, run_id=entry.run_id, timestamp=entry.timestamp
        ),
        severity=old.severity,
        description=old.description,
        blocking=old.blocking,
        partition=old.partition,
    )
    _report_again(instance, entry, evaluation)


def _report_again(
    instance: DagsterInstance,
    entry: EventLogEntry,
    payload: StepMaterializationData | AssetCheckEvaluation | AssetMaterializationPlannedData,
) -> None:
    """`entry`'s event again, carrying `payload`, in the same run and at the same time."""
    assert entry.dagster_event is not None
    instance.report_dagster_event(
        entry.dagster_event._replace(event_specific_data=payload),
        run_id=entry.run_id,
        timestamp=entry.timestamp,
    )
