"""The whole unified model, incrementally when it can be, else from scratch; the one entry point
for the model asset and for callers outside Dagster (tests, benchmarks).

A build is incremental when the stored model was built from a subset of today's inputs by the
same rules: only raw partitions or webhook deliveries were added since (inputs.py). It then
rebuilds `subscriptions` whole (small), takes the customers of the new raw rows and of the
changed subscriptions, closed over shared order and subscription ids (touched.py), and replaces
their rows of the other tables with the same SQL run over their rows alone (incremental.py):
the tables equal a full rebuild's. Anything else (no record of the last build, another
customer-key rule or model SQL, an input removed, re-parsed or newly left out, or a full
rebuild asked for) rebuilds every table from scratch. Either way the build logs the customers
it changed for the marts (warehouse/customer_changes.py) and records its inputs, all in the
caller's transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import duckdb

from ltv_core.settings import DEFAULT_CUSTOMER_KEY_RULE
from ltv_pipeline.defs.model.admitted_inputs import admitted_raw_inputs
from ltv_pipeline.defs.model.customers import build_customers, customers_sql
from ltv_pipeline.defs.model.incremental import rebuild_touched_customers, touched_customers_sql
from ltv_pipeline.defs.model.inputs import (
    InputChanges,
    compare_inputs,
    forget_current_inputs,
    model_definition,
    note_current_inputs,
    record_inputs,
)
from ltv_pipeline.defs.model.large_tables import for_large_rebuilds
from ltv_pipeline.defs.model.subscriptions import build_subscriptions, subscriptions_sql
from ltv_pipeline.defs.model.touched import (
    IDENTITIES,
    close_touched_customers,
    forget_touched,
    rebuild_identities,
)
from ltv_pipeline.defs.model.transactions import (
    build_declined_charges,
    build_transactions,
    declined_charges_sql,
    order_lines_sql,
    transactions_sql,
)
from ltv_pipeline.lib.transaction import one_transaction
from ltv_pipeline.metrics.customer_key import use_customer_key_rule
from ltv_pipeline.metrics.definitions import customer_key_sql
from ltv_pipeline.warehouse.customer_changes import record_changed_customers, record_full_rebuild

MODEL_TABLES = ("subscriptions", "transactions", "declined_charges", "customers")
_OLD_SUBSCRIPTIONS = "previous_subscriptions"
_SHOWN = 5  # items named in a reason for a full rebuild


@dataclass(frozen=True)
class ModelBuild:
    """What a build did, for the asset's metadata and log."""

    incremental: bool
    full_reason: str | None  # why it rebuilt from scratch (None when incremental)
    customers_touched: int | None  # the customers whose rows were replaced (None: all)
    new_partitions: int  # export files added since the last build
    new_deliveries: int  # webhook deliveries added since the last build
    seconds: dict[str, float] = field(default_factory=dict)  # per step

    def describe(self) -> str:
        new = f"{self.new_partitions} new file(s), {self.new_deliveries} new delivery(ies)"
        if self.incremental:
            return f"incremental: {new}, {self.customers_touched} customer(s) rebuilt"
        return f"full rebuild: {self.full_reason} ({new})"


def definition(rule: str) -> str:
    """The fingerprint of the SQL and rule the model tables are built with."""
    return model_definition(
        [
            rule,
            customer_key_sql("email", rule),
            subscriptions_sql(),
            order_lines_sql(),
            transactions_sql(),
            declined_charges_sql(),
            customers_sql(rule),
        ]
    )


def _tables_exist(conn: duckdb.DuckDBPyConnection) -> bool:
    names = {
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' "
            "AND database_name = current_database()"
        ).fetchall()
    }
    return {*MODEL_TABLES, IDENTITIES} <= names


def _listed(what: str, items: list[str]) -> str:
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"{len(items)} input(s) {what} since the last build: {', '.join(items[:_SHOWN])}{more}"


def full_rebuild_reason(
    conn: duckdb.DuckDBPyConnection, changes: InputChanges, rule: str, full: bool
) -> str | None:
    """Why this build must start from scratch, or None when it can be incremental."""
    if full:
        return "asked for"
    if not changes.recorded or not _tables_exist(conn):
        return (
            "no record of the last build's inputs (a first build, or a home from before "
            "incremental builds)"
        )
    if changes.rule != rule:
        return f"the customer-key rule changed ({changes.rule} -> {rule})"
    if changes.definition != definition(rule):
        return "the model's SQL changed"
    if changes.removed:
        return _listed("removed or left out", changes.removed)
    if changes.modified:
        return _listed("re-parsed with other rows", changes.modified)
    return None


def _build_from_scratch(conn: duckdb.DuckDBPyConnection, rule: str) -> None:
    build_subscriptions(conn, rule)
    build_transactions(conn, rule)
    build_declined_charges(conn, rule)
    build_customers(conn, rule)
    rebuild_identities(conn)
    record_full_rebuild(conn)


def _changed_subscriptions_sql(database: str) -> str:
    new, old = f'"{database}".main.subscriptions', f"temp.main.{_OLD_SUBSCRIPTIONS}"
    return (
        f"(SELECT * FROM {new} EXCEPT ALL SELECT * FROM {old}) "
        f"UNION ALL (SELECT * FROM {old} EXCEPT ALL SELECT * FROM {new})"
    )


def _build_incrementally(conn: duckdb.DuckDBPyConnection, rule: str) -> int | None:
    """The touched customers' rows replaced; None when the touched set proved not closed."""
    database = conn.execute("SELECT current_database()").fetchall()[0][0]
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {_OLD_SUBSCRIPTIONS} AS "
        f'SELECT * FROM "{database}".main.subscriptions'
    )
    try:
        build_subscriptions(conn, rule)
        touched = close_touched_customers(
            conn, _changed_subscriptions_sql(database), f'"{database}".main.subscriptions'
        )
        if touched and not rebuild_touched_customers(conn, rule):
            return None
        record_changed_customers(conn, touched_customers_sql())
        return touched
    finally:
        conn.execute(f"DROP TABLE IF EXISTS temp.main.{_OLD_SUBSCRIPTIONS}")
        forget_touched(conn)


def update_model(
    conn: duckdb.DuckDBPyConnection, rule: str = DEFAULT_CUSTOMER_KEY_RULE, full: bool = False
) -> ModelBuild:
    """Bring the model up to date with the raw inputs as the caller's connection reads them (the
    admitted partitions), in the caller's transaction."""
    for_large_rebuilds(conn)
    use_customer_key_rule(conn, rule)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    try:
        note_current_inputs(conn)
        changes = compare_inputs(conn)
        seconds["compare_inputs"] = time.perf_counter() - started
        reason = full_rebuild_reason(conn, changes, rule, full)
        touched = None
        if reason is None:
            touched = _build_incrementally(conn, rule)
            if touched is None:
                reason = "the touched customers were not closed over shared ids (a bug)"
        if reason is not None:
            _build_from_scratch(conn, rule)
        seconds["build"] = time.perf_counter() - started - seconds["compare_inputs"]
        record_inputs(conn, rule, definition(rule))
    finally:
        forget_current_inputs(conn)
    return ModelBuild(
        incremental=reason is None,
        full_reason=reason,
        customers_touched=touched if reason is None else None,
        new_partitions=changes.added_files,
        new_deliveries=changes.added_deliveries,
        seconds=seconds,
    )


def build_model(
    conn: duckdb.DuckDBPyConnection, rule: str = DEFAULT_CUSTOMER_KEY_RULE, full: bool = False
) -> ModelBuild:
    """update_model in a transaction of its own, reading the admitted raw partitions."""
    with one_transaction(conn), admitted_raw_inputs(conn):
        return update_model(conn, rule, full)
