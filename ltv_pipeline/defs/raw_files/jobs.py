"""One ingest job per export format: a run materializes one file partition of one raw asset.

Each raw asset has its own dynamic partitions, and a Dagster job cannot mix partition sets, so
the inbox sensor targets these three jobs rather than one selection.
"""

from dagster import AssetSelection, define_asset_job
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from ltv_core.formats.profiles import FormatProfile, load_catalog
from ltv_pipeline.defs.raw_files.partitions import file_partitions


def ingest_job_name(profile: FormatProfile) -> str:
    return f"ingest_{profile.asset}"


def build_ingest_jobs() -> list[UnresolvedAssetJobDefinition]:
    return [
        define_asset_job(
            ingest_job_name(profile),
            selection=AssetSelection.assets(profile.asset),
            partitions_def=file_partitions(profile),
            description=f"Ingest one {profile.label} file (one partition).",
        )
        for profile in load_catalog().profiles.values()
    ]


INGEST_JOBS = build_ingest_jobs()
