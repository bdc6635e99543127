"""One dynamic partition per ingested file, per format, keyed as ltv_core/partition_keys.py says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dagster import AssetKey, DagsterInstance, DynamicPartitionsDefinition

from ltv_core.archive import Arrival, all_arrivals, arrival_partition_key
from ltv_core.formats.profiles import FormatCatalog, FormatProfile


def file_partitions_name(asset: str) -> str:
    """The name Dagster stores a raw file asset's partitions under."""
    return f"{asset}_files"


def file_partitions(profile: FormatProfile) -> DynamicPartitionsDefinition:
    return DynamicPartitionsDefinition(name=file_partitions_name(profile.asset))


def already_loaded(instance: DagsterInstance):
    """The `already_loaded` question receive_file asks, answered from Dagster's records."""

    def check(profile: FormatProfile, partition_key: str) -> bool:
        return partition_key in instance.get_materialized_partitions(AssetKey(profile.asset))

    return check


def unregistered_archived_files(
    instance: DagsterInstance, catalog: FormatCatalog, archive_dir: Path
) -> Iterator[tuple[FormatProfile, str, Arrival]]:
    """Archived files whose partition is missing: a sensor tick or import that died half-way.

    The inbox sensor requests them again and `ltv materialize` registers them, so no archived
    file is ever left out of the pipeline.
    """
    for sha256, arrival in all_arrivals(archive_dir):
        profile = catalog.profiles.get(arrival.format)
        if profile is None:
            continue
        key = arrival_partition_key(sha256, arrival)
        if not instance.has_dynamic_partition(file_partitions(profile).name, key):
            yield profile, key, arrival
