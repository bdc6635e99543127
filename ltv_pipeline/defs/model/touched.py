"""The customers an incremental build must rebuild: those of the new raw rows, closed over the
identities that link rows of different customers.

A model row merges raw rows by identity (an order line by its order id, a charge by its
subscription id), and the row goes to one customer even when its sources name others (the
export's email beats the webhook's). So a customer's rows are rebuilt correctly only together
with every customer sharing an order id or a subscription id with them: the touched set starts
from the customers and ids of the new raw rows (and of the subscriptions whose row changed), then
takes in every customer having a row with a touched id, and every id of a touched customer, until
nothing is added (usually one or two rounds). Rows are looked for in every raw input and in
`subscriptions` (a subscription's customer names its rebuilt charges); every stored model row
derives its customer from one of those, as long as no raw row went away, which is when a build
is incremental at all. The raw rows are looked for in `model_identities`, their customers and
ids kept beside the model (rebuilt with it from scratch, the new rows' added by each incremental
build): a round over it costs a fraction of one over the raw assets. A customer key may be NULL
(a webhook without an email): NULL is then one customer like any other, matched with IS NOT
DISTINCT FROM.
"""

from __future__ import annotations

import duckdb

from ltv_pipeline.defs.model.inputs import ADDED_INPUTS, item_column, raw_assets

TOUCHED_CUSTOMERS = "touched_customers"
TOUCHED_ORDERS = "touched_orders"
TOUCHED_SUBSCRIPTIONS = "touched_subscriptions"
_LINKED = "linked_rows"
_SEEDS = "touched_seeds"
_MAX_ROUNDS = 50
# Every raw row's (account, customer_key, order_id, subscription_id), kept with the model.
IDENTITIES = "model_identities"

RAW_IDENTITY = "account, customer_key_of(customer_email) AS customer_key, order_id, subscription_id"


def touched_customer_sql(alias: str) -> str:
    """True of a row (by `alias`, with account and customer_key) of a touched customer."""
    return (
        f"EXISTS (SELECT 1 FROM temp.main.{TOUCHED_CUSTOMERS} tc WHERE tc.account = "
        f"{alias}.account AND tc.customer_key IS NOT DISTINCT FROM {alias}.customer_key)"
    )


def of_touched_customers(rows: str) -> str:
    """The rows of `rows` (a relation with account and customer_key) of touched customers: a
    semi join, which DuckDB hashes (an EXISTS within an OR it would not)."""
    return (
        f"SELECT r.* FROM ({rows}) r SEMI JOIN temp.main.{TOUCHED_CUSTOMERS} tc "
        "ON tc.account = r.account AND tc.customer_key IS NOT DISTINCT FROM r.customer_key"
    )


def _linked_rows_sql(rows: str) -> str:
    """The rows of touched customers, or with a touched order or subscription id."""
    by_id = [
        f"SELECT r.* FROM ({rows}) r SEMI JOIN temp.main.{table} t "
        f"ON t.account = r.account AND t.id = r.{column}"
        for table, column in (
            (TOUCHED_ORDERS, "order_id"),
            (TOUCHED_SUBSCRIPTIONS, "subscription_id"),
        )
    ]
    return " UNION ALL ".join([of_touched_customers(rows), *by_id])


def _identity_rows_sql(subscriptions: str) -> str:
    """Every row that names a customer and an id: (account, customer_key, order_id,
    subscription_id)."""
    return (
        f"SELECT * FROM {IDENTITIES} UNION ALL SELECT account, customer_key, "
        f"first_order_id AS order_id, subscription_id FROM {subscriptions}"
    )


def rebuild_identities(conn: duckdb.DuckDBPyConnection) -> None:
    """The identities of every raw row, from scratch (with a full build of the model)."""
    members = " UNION ALL ".join(f"SELECT {RAW_IDENTITY} FROM {asset}" for asset in raw_assets())
    conn.execute(f"CREATE OR REPLACE TABLE {IDENTITIES} AS SELECT DISTINCT * FROM ({members})")


def _new_rows_sql() -> str:
    """The identities of the raw rows of the added input items."""
    members = [
        f"SELECT {RAW_IDENTITY} FROM {asset} SEMI JOIN {ADDED_INPUTS} a "
        f"ON a.asset = '{asset}' AND a.account = {asset}.account "
        f"AND a.item = {asset}.{item_column(asset)}"
        for asset in raw_assets()
    ]
    return " UNION ALL ".join(members)


def _add_from(conn: duckdb.DuckDBPyConnection, rows: str) -> int:
    """Add the customers and ids of `rows` to the touched sets; returns how many were new."""
    added = 0
    for table, sql in (
        (TOUCHED_CUSTOMERS, f"SELECT DISTINCT account, customer_key FROM {rows}"),
        (
            TOUCHED_ORDERS,
            f"SELECT DISTINCT account, order_id AS id FROM {rows} WHERE order_id IS NOT NULL",
        ),
        (
            TOUCHED_SUBSCRIPTIONS,
            f"SELECT DISTINCT account, subscription_id AS id FROM {rows} "
            "WHERE subscription_id IS NOT NULL",
        ),
    ):
        columns = "account, customer_key" if table == TOUCHED_CUSTOMERS else "account, id"
        added += conn.execute(
            f"INSERT INTO temp.main.{table} SELECT * FROM ({sql}) n "
            f"WHERE NOT EXISTS (SELECT 1 FROM temp.main.{table} t WHERE "
            + " AND ".join(f"t.{c} IS NOT DISTINCT FROM n.{c}" for c in columns.split(", "))
            + ")"
        ).fetchall()[0][0]
    return added


def close_touched_customers(
    conn: duckdb.DuckDBPyConnection, changed_subscriptions_sql: str, subscriptions: str
) -> int:
    """Fill TOUCHED_CUSTOMERS (and the touched ids) from the added input items and the changed
    subscription rows (`changed_subscriptions_sql`: rows with account, customer_key,
    first_order_id, subscription_id), closed over shared ids; returns how many customers.
    The customer-key macro must be installed."""
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {TOUCHED_CUSTOMERS} (account VARCHAR, customer_key VARCHAR)"
    )
    for table in (TOUCHED_ORDERS, TOUCHED_SUBSCRIPTIONS):
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} (account VARCHAR, id VARCHAR)")
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {_SEEDS} AS {_new_rows_sql()}")
    # The new raw rows' identities join the kept ones (a repeat is harmless until a full build).
    conn.execute(f"INSERT INTO {IDENTITIES} SELECT DISTINCT * FROM temp.main.{_SEEDS}")
    conn.execute(
        f"INSERT INTO temp.main.{_SEEDS} SELECT account, customer_key, first_order_id, "
        f"subscription_id FROM ({changed_subscriptions_sql})"
    )
    _add_from(conn, f"temp.main.{_SEEDS}")
    for _ in range(_MAX_ROUNDS):
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {_LINKED} AS "
            f"{_linked_rows_sql(_identity_rows_sql(subscriptions))}"
        )
        if not _add_from(conn, f"temp.main.{_LINKED}"):
            break
    else:
        raise RuntimeError(
            f"the touched customers did not settle in {_MAX_ROUNDS} rounds of linking by order "
            "and subscription ids"
        )
    for table in (_LINKED, _SEEDS):
        conn.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    return conn.execute(f"SELECT count(*) FROM temp.main.{TOUCHED_CUSTOMERS}").fetchall()[0][0]


def forget_touched(conn: duckdb.DuckDBPyConnection) -> None:
    for table in (TOUCHED_CUSTOMERS, TOUCHED_ORDERS, TOUCHED_SUBSCRIPTIONS, _LINKED, _SEEDS):
        conn.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
