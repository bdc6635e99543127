"""raw_samcart_webhook_events: one row per product line of each distinct webhook delivery.

A run for day D first imports every sealed landing segment (the hand-off), then rebuilds exactly
D: the deliveries first received on local day D are parsed again from their stored bytes, so a
mapping fix heals history by a backfill. Lines that do not parse or break the contract go to
`rejects` (source = this asset, file_hash = the delivery's content hash) with the reason.
"""

import datetime as dt
from collections.abc import Callable

import polars as pl
import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ltv_core.formats.profiles import load_catalog
from ltv_core.settings import Settings
from ltv_pipeline.contracts.check_result import CONTRACT_CHECK, contract_check_result
from ltv_pipeline.contracts.left_out import contract_breach, record_verdict
from ltv_pipeline.defs.publish.state import new_input_taken_in
from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.defs.webhooks.event_types import event_type_spellings, known_event_types
from ltv_pipeline.defs.webhooks.parsing import (
    EVENT_COLUMNS,
    Reject,
    build_documents,
    parse_lines,
)
from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_DAYS, WEBHOOK_EVENTS_ASSET
from ltv_pipeline.lib.markdown import markdown_table
from ltv_pipeline.lib.webhook_import import DIGEST_METADATA, day_digest, day_window, import_landed
from ltv_pipeline.warehouse.connection import Warehouse

PREVIEW_ROWS = 5
LINES_TABLE = "webhook_lines"
IN_WINDOW = (
    "SELECT 1 FROM webhook_deliveries d WHERE d.account = {t}.account "
    "AND d.content_hash = {t}.{hash} AND d.received_at >= ? AND d.received_at < ?"
)


def _contract_rejects(candidates: pl.DataFrame, failures: pl.DataFrame) -> list[Reject]:
    rejects = []
    for failure in failures.filter(pl.col("index").is_not_null()).iter_rows(named=True):
        row = candidates.row(failure["index"], named=True)
        rejects.append(
            Reject(
                row["account"],
                row["delivery_hash"],
                row["received_at"],
                row["line_index"],
                failure["column"],
                None if failure["failure_case"] is None else str(failure["failure_case"]),
                f"contract: {failure['column']} failed {failure['check']}",
            )
        )
    return rejects


def _line_rejects(conn) -> list[Reject]:
    rows = conn.execute(
        f"SELECT account, delivery_hash, received_at, line_index, reject_column, reject_value, "
        f"reject_reason FROM {LINES_TABLE} WHERE reject_reason IS NOT NULL"
    ).fetchall()
    return [Reject(*row) for row in rows]


def _write_partition(
    conn,
    day,
    start,
    end,
    good: pl.DataFrame,
    rejects: list[Reject],
    judge: Callable[[], AssetCheckResult],
) -> AssetCheckResult:
    """Replace exactly this day's rows and this day's deliveries' rejects, and `judge` them (the
    contract check, which records whether the day is left out of the model), in one
    transaction."""
    columns = ", ".join(EVENT_COLUMNS)
    reject_table = pa.Table.from_pylist(
        [
            {
                "account": r.account,
                "file_hash": r.delivery_hash,
                "file_name": f"webhook received {r.received_at:%Y-%m-%d %H:%M:%S} UTC",
                "line_number": r.line_number,
                "column_name": r.column_name,
                "value": r.value,
                "reason": r.reason,
            }
            for r in rejects
        ],
        schema=pa.schema(
            [
                ("account", pa.string()),
                ("file_hash", pa.string()),
                ("file_name", pa.string()),
                ("line_number", pa.int64()),
                ("column_name", pa.string()),
                ("value", pa.string()),
                ("reason", pa.string()),
            ]
        ),
    )
    conn.register("good_events", good.to_arrow())
    conn.register("new_rejects", reject_table)
    try:
        conn.execute("BEGIN")
        conn.execute(
            f"DELETE FROM {WEBHOOK_EVENTS_ASSET} e WHERE received_day = ? "
            f"OR EXISTS ({IN_WINDOW.format(t='e', hash='delivery_hash')})",
            [day, start, end],
        )
        conn.execute(
            f"DELETE FROM rejects r WHERE source = ? "
            f"AND EXISTS ({IN_WINDOW.format(t='r', hash='file_hash')})",
            [WEBHOOK_EVENTS_ASSET, start, end],
        )
        conn.execute(
            f"INSERT INTO {WEBHOOK_EVENTS_ASSET} ({columns}) SELECT {columns} FROM good_events"
        )
        conn.execute(
            "INSERT INTO rejects (account, source, file_hash, file_name, line_number, "
            "column_name, value, reason) SELECT account, ?, file_hash, file_name, line_number, "
            "column_name, value, reason FROM new_rejects",
            [WEBHOOK_EVENTS_ASSET],
        )
        check = judge()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("good_events")
        conn.unregister("new_rejects")
    return check


def _contract_check(
    conn, day: dt.date, delivery_hashes: set[str], known_types: frozenset[str]
) -> AssetCheckResult:
    """Re-read the stored partition: contract holds, and every delivery is a line or a reject.
    Records the verdict: a day that fails is left out of the model until it passes."""
    stored = conn.sql(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM {WEBHOOK_EVENTS_ASSET} WHERE received_day = ? "
        "ORDER BY account, delivery_hash, line_index",
        params=[day],
    ).pl()
    # Imported where a contract is checked: pandera loads in the runs that check one, not in
    # every process that loads the definitions.
    from ltv_pipeline.contracts.webhook_events import webhook_contract_failures

    failures = webhook_contract_failures(stored, known_types)
    rejected = {
        h
        for (h,) in conn.execute(
            "SELECT DISTINCT file_hash FROM rejects WHERE source = ?", [WEBHOOK_EVENTS_ASSET]
        ).fetchall()
    }
    accounted = set(stored["delivery_hash"].to_list()) | (rejected & delivery_hashes)
    balanced = accounted == delivery_hashes
    breach = contract_breach(
        failures,
        None
        if balanced
        else f"of {len(delivery_hashes)} deliveries, {len(delivery_hashes - accounted)} are "
        f"neither stored as lines nor rejected, and {len(accounted - delivery_hashes)} stored "
        "are not the day's",
    )
    record_verdict(conn, WEBHOOK_EVENTS_ASSET, day.isoformat(), breach)
    return contract_check_result(
        failures,
        breach,
        {
            "lines": stored.height,
            "deliveries": len(delivery_hashes),
            "every_delivery_stored_or_rejected": balanced,
        },
    )


def build_webhook_events_asset(settings: Settings) -> AssetsDefinition:
    """The asset, one partition per local day (LTV_TIMEZONE) that has deliveries."""

    @asset(
        name=WEBHOOK_EVENTS_ASSET,
        partitions_def=WEBHOOK_DAYS,
        group_name="raw_samcart",
        kinds={"duckdb"},
        description=(
            "SamCart webhook deliveries, one row per product line of each distinct body "
            "(identity: account + content hash), partitioned by the local day first received. "
            "Raw bodies are kept in webhook_deliveries; what does not parse is in `rejects`."
        ),
        check_specs=[
            AssetCheckSpec(
                CONTRACT_CHECK,
                asset=WEBHOOK_EVENTS_ASSET,
                blocking=True,
                description="Stored lines satisfy the pandera contract, and every delivery of "
                "the day is either stored as lines or in rejects. A day that fails is left out "
                "of the model (listed in the model's `left_out` metadata) until a rebuild of "
                "the day passes.",
            )
        ],
    )
    def raw_samcart_webhook_events(
        context: AssetExecutionContext, warehouse: Warehouse, ltv_settings: LtvSettings
    ) -> MaterializeResult:
        from ltv_pipeline.contracts.webhook_events import webhook_contract_failures  # as above

        settings = ltv_settings.settings
        spellings = event_type_spellings(load_catalog(settings.formats_config_path))
        known_types = known_event_types(spellings)
        day = dt.date.fromisoformat(context.partition_key)
        start, end = day_window(day, settings.timezone)
        with warehouse.get_connection() as conn:
            imported = import_landed(conn, settings.webhooks_dir)
            deliveries = conn.execute(
                "SELECT account, content_hash, received_at, content_type, body, outcome, reason "
                "FROM webhook_deliveries WHERE received_at >= ? AND received_at < ? "
                "ORDER BY account, content_hash",
                [start, end],
            ).fetchall()
            digest = day_digest(conn, day, settings.timezone)  # of exactly these deliveries
            documents, rejects = build_documents(deliveries, day)
            rejects += parse_lines(conn, documents, day, LINES_TABLE, spellings)
            candidates = conn.sql(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM {LINES_TABLE} "
                "WHERE reject_reason IS NULL ORDER BY account, delivery_hash, line_index"
            ).pl()
            rejects += _line_rejects(conn)
            failures = webhook_contract_failures(candidates, known_types)
            bad_rows = set(failures["index"].drop_nulls().to_list())
            rejects += _contract_rejects(candidates, failures)
            good = (
                candidates.with_row_index("_row")
                .filter(~pl.col("_row").is_in(list(bad_rows)))
                .drop("_row")
            )
            hashes = {row[1] for row in deliveries}
            check = _write_partition(
                conn,
                day,
                start,
                end,
                good,
                rejects,
                lambda: _contract_check(conn, day, hashes, known_types),
            )
            preview = good.head(PREVIEW_ROWS).drop("account", "delivery_hash")
        new_input_taken_in(settings.published_dir)
        rejected_deliveries = len({r.delivery_hash for r in rejects})
        context.log.info(
            f"{day}: {len(deliveries)} deliveries, {good.height} lines, {len(rejects)} rejects; "
            f"imported {len(imported.segments)} segment(s) with {imported.rows_new} new deliveries"
        )
        return MaterializeResult(
            metadata={
                "dagster/row_count": good.height,
                "deliveries": len(deliveries),
                "deliveries_with_rejects": rejected_deliveries,
                "rejects": len(rejects),
                "first_rejects": MetadataValue.md(
                    "\n".join(f"- {r.reason}" for r in rejects[:5]) or "none"
                ),
                "segments_imported": len(imported.segments),
                "new_deliveries_imported": imported.rows_new,
                DIGEST_METADATA: digest,  # what `ltv materialize` compares to see a changed day
                "preview": MetadataValue.md(markdown_table(preview.columns, preview.rows())),
            },
            check_results=[check],
        )

    return raw_samcart_webhook_events
