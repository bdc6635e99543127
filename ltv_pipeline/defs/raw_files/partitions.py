"""One dynamic partition per ingested file, per format: `<account>_<sha256>`."""

from __future__ import annotations

from dagster import AssetKey, DagsterInstance, DynamicPartitionsDefinition

from ltv_pipeline.formats.profiles import FormatProfile


def file_partitions(profile: FormatProfile) -> DynamicPartitionsDefinition:
    return DynamicPartitionsDefinition(name=f"{profile.asset}_files")


def already_loaded(instance: DagsterInstance):
    """The `already_loaded` question receive_file asks, answered from Dagster's records."""

    def check(profile: FormatProfile, partition_key: str) -> bool:
        return partition_key in instance.get_materialized_partitions(AssetKey(profile.asset))

    return check
