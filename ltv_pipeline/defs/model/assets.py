"""The unified model as Dagster assets: subscriptions -> transactions (+ declined charges) ->
customers. Unpartitioned: each run rebuilds from every raw partition, which is what makes the
result independent of arrival order and of how exports overlap."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ltv_pipeline.defs.model.automation import MODEL_GROUP, REBUILD_WHEN_UPSTREAM_CHANGES
from ltv_pipeline.defs.model.customers import build_customers
from ltv_pipeline.defs.model.reconciliation import collected_mismatches, reconcile_transactions
from ltv_pipeline.defs.model.subscriptions import build_subscriptions
from ltv_pipeline.defs.model.transactions import build_declined_charges, build_transactions
from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_EVENTS_ASSET
from ltv_pipeline.formats.profiles import load_catalog
from ltv_pipeline.lib.markdown import markdown_table
from ltv_pipeline.lib.warehouse import Warehouse

RAW_ORDERS = AssetKey("raw_samcart_orders")
RAW_WEBHOOKS = AssetKey(WEBHOOK_EVENTS_ASSET)
RAW_SUBSCRIPTIONS = [
    AssetKey("raw_samcart_recurring_subscriptions"),
    AssetKey("raw_samcart_limited_subscriptions"),
]
KEYS_UNIQUE = "keys_unique"


def raw_asset_keys() -> list[AssetKey]:
    return [AssetKey(p.asset) for p in load_catalog().profiles.values()] + [RAW_WEBHOOKS]


def _keys_unique(conn, table: str, key: str) -> AssetCheckResult:
    """No two rows share a key, and no key column is NULL (a NULL key is no identity)."""
    any_null = " OR ".join(f"{column.strip()} IS NULL" for column in key.split(","))
    duplicates, null_keys = conn.execute(
        f"SELECT count(*) - count(DISTINCT ({key})), count(*) FILTER (WHERE {any_null}) "
        f"FROM {table}"
    ).fetchall()[0]
    return AssetCheckResult(
        check_name=KEYS_UNIQUE,
        passed=duplicates == 0 and null_keys == 0,
        metadata={"duplicates": duplicates, "null_keys": null_keys},
    )


def _summary(conn, sql: str) -> MetadataValue:
    cursor = conn.execute(sql)
    return MetadataValue.md(markdown_table([d[0] for d in cursor.description], cursor.fetchall()))


@asset(
    deps=[*RAW_SUBSCRIPTIONS, RAW_WEBHOOKS],
    group_name=MODEL_GROUP,
    kinds={"duckdb"},
    automation_condition=REBUILD_WHEN_UPSTREAM_CHANGES,
    check_specs=[AssetCheckSpec(KEYS_UNIQUE, asset="subscriptions")],
    description="Recurring subscriptions and payment plans, one row per (account, id), with "
    "status history, installment price, plan length and payments made.",
)
def subscriptions(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    with warehouse.get_connection() as conn:
        rows = build_subscriptions(conn)
        check = _keys_unique(conn, "subscriptions", "account, subscription_id")
        by_kind = _summary(
            conn,
            "SELECT account, plan_kind, status, count(*) AS subscriptions "
            "FROM subscriptions GROUP BY ALL ORDER BY ALL",
        )
    return MaterializeResult(
        metadata={"dagster/row_count": rows, "by_kind_and_status": by_kind},
        check_results=[check],
    )


@asset(
    deps=[RAW_ORDERS, RAW_WEBHOOKS, "subscriptions"],
    group_name=MODEL_GROUP,
    kinds={"duckdb"},
    automation_condition=REBUILD_WHEN_UPSTREAM_CHANGES,
    check_specs=[
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
    ],
    description="One row per real-world money event (order line, rebill, installment, refund), "
    "each counted once however many sources reported it, with its sources.",
)
def transactions(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    with warehouse.get_connection() as conn:
        rows = build_transactions(conn)
        unique = _keys_unique(conn, "transactions", "account, transaction_id")
        figures = reconcile_transactions(conn)
        mismatches = collected_mismatches(conn)
        by_kind = _summary(
            conn,
            "SELECT account, kind, is_rebuilt, count(*) AS transactions, "
            "sum(amount) AS amount FROM transactions GROUP BY ALL ORDER BY ALL",
        )
    passed = bool(figures.pop("passed"))
    return MaterializeResult(
        metadata={"dagster/row_count": rows, "by_kind": by_kind},
        check_results=[
            unique,
            AssetCheckResult(check_name="reconciles_with_sources", passed=passed, metadata=figures),
            AssetCheckResult(
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


@asset(
    deps=[RAW_ORDERS, RAW_WEBHOOKS, "transactions"],
    group_name=MODEL_GROUP,
    kinds={"duckdb"},
    automation_condition=REBUILD_WHEN_UPSTREAM_CHANGES,
    description="Declined and failed charges: not revenue, kept apart for dunning and churn.",
)
def declined_charges(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    with warehouse.get_connection() as conn:
        rows = build_declined_charges(conn)
    return MaterializeResult(metadata={"dagster/row_count": rows})


@asset(
    deps=["transactions", "subscriptions", RAW_ORDERS, RAW_WEBHOOKS],
    group_name=MODEL_GROUP,
    kinds={"duckdb"},
    automation_condition=REBUILD_WHEN_UPSTREAM_CHANGES,
    check_specs=[AssetCheckSpec(KEYS_UNIQUE, asset="customers")],
    description="One row per customer (email trimmed and case-folded; platform ids as "
    "aliases): first purchase, cohort, front-end product.",
)
def customers(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    with warehouse.get_connection() as conn:
        rows = build_customers(conn)
        check = _keys_unique(conn, "customers", "account, customer_key")
    return MaterializeResult(metadata={"dagster/row_count": rows}, check_results=[check])


MODEL_ASSETS: list[AssetsDefinition] = [subscriptions, transactions, declined_charges, customers]
