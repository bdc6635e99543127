"""The unified model as Dagster assets: subscriptions -> transactions (+ declined charges) ->
customers, built together in one step. Unpartitioned: each run brings the model up to date with
every raw partition, incrementally when only partitions or deliveries were added (the customers
they touch are rebuilt), else from scratch (defs/model/build.py); either way the tables equal a
rebuild from scratch, whatever the arrival order and however exports overlap. A raw partition
whose blocking contract check failed is left out until it passes, and every model table lists
what is left out, and how it was built, in its metadata."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from ltv_core.formats.profiles import load_catalog
from ltv_pipeline.contracts.keys_unique import KEYS_UNIQUE, keys_unique
from ltv_pipeline.contracts.left_out import LeftOut
from ltv_pipeline.defs.model.admitted_inputs import admitted_raw_inputs
from ltv_pipeline.defs.model.automation import MODEL_GROUP, REBUILD_WHEN_UPSTREAM_CHANGES
from ltv_pipeline.defs.model.build import ModelBuild, update_model
from ltv_pipeline.defs.model.reconciliation import collected_mismatches, reconcile_transactions
from ltv_pipeline.defs.model.subscriptions import subscription_raw_assets
from ltv_pipeline.defs.publish.state import rebuilding
from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_EVENTS_ASSET
from ltv_pipeline.lib.full_rebuild import FULL_REBUILD_TAG, full_rebuild_asked
from ltv_pipeline.lib.markdown import markdown_table
from ltv_pipeline.lib.transaction import one_transaction
from ltv_pipeline.warehouse.connection import Warehouse

RAW_ORDERS = AssetKey("raw_samcart_orders")
RAW_WEBHOOKS = AssetKey(WEBHOOK_EVENTS_ASSET)
RAW_SUBSCRIPTIONS = [AssetKey(asset) for asset in subscription_raw_assets()]


def raw_asset_keys() -> list[AssetKey]:
    return [AssetKey(p.asset) for p in load_catalog().profiles.values()] + [RAW_WEBHOOKS]


def _summary(conn, sql: str) -> MetadataValue:
    cursor = conn.execute(sql)
    return MetadataValue.md(markdown_table([d[0] for d in cursor.description], cursor.fetchall()))


def model_code_version(customer_key_rule: str) -> str:
    """The model's code version names the customer-key rule it is built with, so that Dagster
    (the UI and the automation sensor) sees a changed LTV_CUSTOMER_KEY as a changed model."""
    return f"customer-key:{customer_key_rule}"


def left_out_metadata(left_out: list[LeftOut]) -> dict[str, MetadataValue]:
    """What the build left out, on every model table (and so in the UI): one line each."""
    lines = "\n".join(f"- left out: {p.describe()}" for p in left_out)
    return {
        "left_out_partitions": MetadataValue.int(len(left_out)),
        "left_out": MetadataValue.md(lines or "none: every raw partition passed its contract"),
    }


BUILD_NOTE = (
    " Built with the other model tables in one step: incrementally (the customers the new "
    "partitions and deliveries touch) when only inputs were added, else from scratch; to ask "
    f"for a rebuild from scratch, launch the run with the tag `{FULL_REBUILD_TAG}=true` (the "
    "launchpad's or a backfill's tags) or run `ltv materialize --full`."
)


def build_metadata(built: ModelBuild) -> dict[str, MetadataValue]:
    """How the build went, on every model table (and so in the UI)."""
    return {
        "build": MetadataValue.text("incremental" if built.incremental else "full"),
        "full_rebuild_reason": MetadataValue.text(built.full_reason or "none"),
        "customers_touched": MetadataValue.int(
            -1 if built.customers_touched is None else built.customers_touched
        ),
        "new_partitions": MetadataValue.int(built.new_partitions),
        "new_deliveries": MetadataValue.int(built.new_deliveries),
    }


def _rows(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _spec(name: str, deps: list, description: str, code_version: str) -> AssetSpec:
    return AssetSpec(
        name,
        deps=deps,
        group_name=MODEL_GROUP,
        kinds={"duckdb"},
        automation_condition=REBUILD_WHEN_UPSTREAM_CHANGES,
        description=description + BUILD_NOTE,
        code_version=code_version,
    )


def _subscriptions_result(conn, rows: int) -> MaterializeResult:
    return MaterializeResult(
        asset_key="subscriptions",
        metadata={
            "dagster/row_count": rows,
            "by_kind_and_status": _summary(
                conn,
                "SELECT account, plan_kind, status, count(*) AS subscriptions "
                "FROM subscriptions GROUP BY ALL ORDER BY ALL",
            ),
        },
        check_results=[keys_unique(conn, "subscriptions", ("account", "subscription_id"))],
    )


def _transactions_result(conn, rows: int, rule: str) -> MaterializeResult:
    unique = keys_unique(conn, "transactions", ("account", "transaction_id"))
    figures = reconcile_transactions(conn, rule)
    mismatches = collected_mismatches(conn, rule)
    by_kind = _summary(
        conn,
        "SELECT account, kind, is_rebuilt, count(*) AS transactions, "
        "sum(amount) AS amount FROM transactions GROUP BY ALL ORDER BY ALL",
    )
    passed = bool(figures.pop("passed"))
    return MaterializeResult(
        asset_key="transactions",
        metadata={"dagster/row_count": rows, "by_kind": by_kind},
        check_results=[
            unique,
            AssetCheckResult(
                asset_key="transactions",
                check_name="reconciles_with_sources",
                passed=passed,
                metadata=figures,
            ),
            AssetCheckResult(
                asset_key="transactions",
                check_name="export_totals_collected_match",
                passed=not mismatches,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "mismatches": len(mismatches),
                    "first_mismatches": MetadataValue.md(
                        markdown_table(
                            ["account", "subscription", "total collected", "first + rebuilt"],
                            mismatches[:20],
                        )
                    ),
                },
            ),
        ],
    )


def _customers_result(conn, rows: int) -> MaterializeResult:
    return MaterializeResult(
        asset_key="customers",
        metadata={"dagster/row_count": rows},
        check_results=[keys_unique(conn, "customers", ("account", "customer_key"))],
    )


def build_model_assets(customer_key_rule: str) -> list[AssetsDefinition]:
    """The one model step, built with the customer-key rule of the settings (the code location
    is reloaded when they change, and the code version then tells Dagster the model is stale)."""
    code_version = model_code_version(customer_key_rule)

    @multi_asset(
        name="unified_model",
        specs=[
            _spec(
                "subscriptions",
                [*RAW_SUBSCRIPTIONS, RAW_WEBHOOKS],
                "Recurring subscriptions and payment plans, one row per (account, id), with "
                "status history, installment price, plan length and payments made.",
                code_version,
            ),
            _spec(
                "transactions",
                [RAW_ORDERS, RAW_WEBHOOKS, "subscriptions"],
                "One row per real-world money event (order line, rebill, installment, refund), "
                "each counted once however many sources reported it, with its sources.",
                code_version,
            ),
            _spec(
                "declined_charges",
                [RAW_ORDERS, RAW_WEBHOOKS, "transactions"],
                "Declined and failed charges: not revenue, kept apart for dunning and churn.",
                code_version,
            ),
            _spec(
                "customers",
                ["transactions", "subscriptions", RAW_ORDERS, RAW_WEBHOOKS],
                "One row per customer (email trimmed and case-folded; platform ids as aliases): "
                "first purchase, cohort, front-end product.",
                code_version,
            ),
        ],
        check_specs=[
            AssetCheckSpec(KEYS_UNIQUE, asset="subscriptions"),
            AssetCheckSpec(KEYS_UNIQUE, asset="transactions"),
            AssetCheckSpec(
                "reconciles_with_sources",
                asset="transactions",
                description="Order lines and their amounts equal the distinct accepted source "
                "lines; every rebuilt charge slot is rebuilt or replaced exactly once.",
            ),
            AssetCheckSpec(
                "export_totals_collected_match",
                asset="transactions",
                description="First order + rebuilt charges add up to each subscription export's "
                "Total Collected (a warning lists the ones that do not).",
            ),
            AssetCheckSpec(KEYS_UNIQUE, asset="customers"),
        ],
        # One step, never a subset: the four tables are always one consistent rebuild, so a mart
        # never reads transactions built on older subscriptions, and the first Orders export alone
        # builds (empty) subscriptions rather than failing on their absence.
        can_subset=False,
    )
    def unified_model(
        context: AssetExecutionContext, warehouse: Warehouse, ltv_settings: LtvSettings
    ) -> Iterator[MaterializeResult]:
        rule = ltv_settings.customer_key_rule
        # One transaction: a failing step leaves the previous model whole, never half replaced.
        # Raw partitions whose contract check failed are left out (admitted_inputs.py).
        with (
            rebuilding(ltv_settings.settings.published_dir),
            warehouse.get_connection() as conn,
            one_transaction(conn),
            admitted_raw_inputs(conn) as left_out,
        ):
            built = update_model(conn, rule, full=full_rebuild_asked(context.run.tags))
            results = [
                _subscriptions_result(conn, _rows(conn, "subscriptions")),
                _transactions_result(conn, _rows(conn, "transactions"), rule),
                MaterializeResult(
                    asset_key="declined_charges",
                    metadata={"dagster/row_count": _rows(conn, "declined_charges")},
                ),
                _customers_result(conn, _rows(conn, "customers")),
            ]
        context.log.info(f"model {built.describe()}")
        for partition in left_out:
            context.log.warning(f"left out of the model: {partition.describe()}")
        extra = {**left_out_metadata(left_out), **build_metadata(built)}
        yield from (r._replace(metadata={**(r.metadata or {}), **extra}) for r in results)

    return [unified_model]
