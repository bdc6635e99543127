"""The three raw file assets, one per SamCart export, built from their format profiles."""

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ltv_core.archive import archived_file_of, archived_path, original_name
from ltv_core.file_results import FileResult, write_result
from ltv_core.formats.csv_file import CsvFileError
from ltv_core.formats.detect import FormatMismatch
from ltv_core.formats.profiles import (
    FormatCatalog,
    FormatConfigError,
    FormatProfile,
    load_catalog,
)
from ltv_core.quarantine import forget_parse_failure, quarantine_archived
from ltv_core.settings import Settings
from ltv_pipeline.contracts.check_result import CONTRACT_CHECK, contract_check_result
from ltv_pipeline.defs.publish.state import new_input_taken_in
from ltv_pipeline.defs.raw_files.partitions import file_partitions
from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.ingest.load_file import FileLoad, load_file
from ltv_pipeline.lib.markdown import markdown_table
from ltv_pipeline.warehouse.connection import Warehouse
from ltv_pipeline.warehouse.landed import landed_table

PREVIEW_ROWS = 5
RAW_FILES_GROUP = "raw_samcart"


def _contract_check(load: FileLoad) -> AssetCheckResult:
    """The contract's verdict on the stored rows, and the row arithmetic, as the asset check.

    The load validated the rows as stored (read back from the table, inside its transaction)
    and moved refused rows to `rejects`; whatever the contract still finds there fails the check.
    """
    balanced = load.rows_accepted + load.rows_rejected == load.rows_read
    return contract_check_result(
        load.contract_failures,
        load.breach,
        {
            "rows_read": load.rows_read,
            "rows_accepted": load.rows_accepted,
            "rows_rejected": load.rows_rejected,
            "accepted_plus_rejected_equals_read": balanced,
        },
    )


def load_and_check(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    catalog: FormatCatalog,
    profile: FormatProfile,
    account: str,
    sha256: str,
    file_name: str,
    partition_key: str,
) -> tuple[FileLoad, AssetCheckResult]:
    """The asset's work without Dagster around it (the import benchmark measures exactly this)."""
    load = load_file(
        conn,
        catalog=catalog,
        profile=profile,
        account=account,
        file_hash=sha256,
        path=archived_path(settings.archive_dir, sha256),
        file_name=file_name,
        partition_key=partition_key,
        date_order=settings.date_order,
        max_record_bytes=settings.max_record_bytes,
    )
    return load, _contract_check(load)


def build_raw_file_asset(profile: FormatProfile) -> AssetsDefinition:
    @asset(
        name=profile.asset,
        partitions_def=file_partitions(profile),
        group_name=RAW_FILES_GROUP,
        kinds={"duckdb", "csv"},
        description=(
            f"Rows of {profile.label} exports, one partition per ingested file: the view of "
            f"the accepted records of {landed_table(profile)}, which keeps every cell as text "
            "beside its parsed value; rows that do not parse or break the contract are in "
            "`rejects` with the reason."
        ),
        check_specs=[
            AssetCheckSpec(
                CONTRACT_CHECK,
                asset=profile.asset,
                blocking=True,
                description="Stored rows satisfy the pandera contract, and accepted + rejected "
                "rows equal the rows read from the file. A file that fails is left out of the "
                "model (listed in the model's `left_out` metadata) until a re-parse passes.",
            )
        ],
    )
    def raw_file_asset(
        context: AssetExecutionContext, warehouse: Warehouse, ltv_settings: LtvSettings
    ) -> MaterializeResult:
        settings = ltv_settings.settings
        account, sha256 = archived_file_of(settings.archive_dir, context.partition_key)
        file_name = original_name(settings.archive_dir, sha256, account)
        catalog = load_catalog(settings.formats_config_path)
        with warehouse.get_connection() as conn:
            try:
                load, check = load_and_check(
                    conn,
                    settings,
                    catalog,
                    profile,
                    account,
                    sha256,
                    file_name,
                    context.partition_key,
                )
            except (CsvFileError, FormatMismatch) as exc:
                # The file's own fault, the same on every retry: set it aside once, for good.
                failure = quarantine_archived(
                    archived_path(settings.archive_dir, sha256),
                    settings.quarantine_dir / account,
                    settings.parse_failures_dir,
                    partition_key=context.partition_key,
                    asset=profile.asset,
                    file_name=file_name,
                    reason=str(exc),
                )
                write_result(
                    settings.results_dir,
                    FileResult.failed(
                        file_name,
                        failure.explanation(),
                        account=account,
                        format=profile.name,
                        sha256=sha256,
                    ),
                )
                raise Failure(description=f"quarantined: {failure.describe()}") from None
            except (FormatConfigError, FileNotFoundError) as exc:
                write_result(
                    settings.results_dir,
                    FileResult.failed(
                        file_name, str(exc), account=account, format=profile.name, sha256=sha256
                    ),
                )
                raise Failure(description=f"{file_name}: {exc}") from None
            # Run history is a log: the preview shows the shape of the data, not who bought.
            masked = ", ".join(
                f"regexp_replace({c.name}, '^(.)[^@]*@', '\\1***@') AS {c.name}"
                for c in profile.columns
                if c.type == "email"
            )
            preview = conn.execute(
                f"SELECT * EXCLUDE (account, file_hash) REPLACE ({masked}) FROM {profile.asset} "
                "WHERE account = ? AND file_hash = ? ORDER BY line_number LIMIT ?",
                [account, sha256, PREVIEW_ROWS],
            )
            preview_columns = [d[0] for d in preview.description]
            preview_rows = preview.fetchall()
        forget_parse_failure(settings.parse_failures_dir, context.partition_key)
        write_result(
            settings.results_dir,
            FileResult(
                file=file_name,
                format=profile.name,
                status="loaded",
                rows=load.rows_accepted,
                rejected=load.rows_rejected,
                error=None,
                account=account,
                sha256=sha256,
                first_rejects=load.first_reasons,
            ),
        )
        new_input_taken_in(settings.published_dir)
        context.log.info(
            f"{profile.name} file {sha256[:12]}: {load.rows_read} rows read, "
            f"{load.rows_accepted} accepted, {load.rows_rejected} rejected"
        )
        return MaterializeResult(
            metadata={
                "dagster/row_count": load.rows_accepted,
                "rows_read": load.rows_read,
                "rows_rejected": load.rows_rejected,
                "file_name": file_name,
                "account": account,
                "encoding": load.encoding,
                "first_rejects": MetadataValue.md(
                    "\n".join(f"- {r}" for r in load.first_reasons) or "none"
                ),
                "preview": MetadataValue.md(markdown_table(preview_columns, preview_rows)),
            },
            check_results=[check],
        )

    return raw_file_asset


def build_raw_file_assets() -> list[AssetsDefinition]:
    return [build_raw_file_asset(profile) for profile in load_catalog().profiles.values()]
