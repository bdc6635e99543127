"""The whole unified model in dependency order, for callers outside Dagster (tests, benchmark)."""

import duckdb

from ltv_core.settings import DEFAULT_CUSTOMER_KEY_RULE
from ltv_pipeline.defs.model.customers import build_customers
from ltv_pipeline.defs.model.subscriptions import build_subscriptions
from ltv_pipeline.defs.model.transactions import build_declined_charges, build_transactions
from ltv_pipeline.lib.transaction import one_transaction
from ltv_pipeline.warehouse.customer_changes import record_full_rebuild


def build_model(conn: duckdb.DuckDBPyConnection, rule: str = DEFAULT_CUSTOMER_KEY_RULE) -> None:
    with one_transaction(conn):
        build_subscriptions(conn, rule)
        build_transactions(conn, rule)
        build_declined_charges(conn, rule)
        build_customers(conn, rule)
        record_full_rebuild(conn)
