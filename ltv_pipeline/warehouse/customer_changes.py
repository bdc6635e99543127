"""Which customers changed since each per-customer mart last caught up: the hand-off that lets a
model build touch a few customers and the marts redo only theirs.

The model appends to a log, in the same transaction as its tables: the customers whose
transactions, first purchase or front-end product its build may have changed (one sequence
number per build), or one "everything" entry when it rebuilt from scratch. Each consumer (a
mart step that keeps per-customer rows) remembers the last sequence number it applied. A
consumer that never applied anything (a new mart, a home from before this log) sees
"everything", so an existing home is brought to the incremental layout by one full rebuild.
The log is pruned of entries every consumer has applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

# Every step that keeps per-customer rows and reads this log; the log is pruned to the slowest.
CONSUMERS = ("customer_ltv", "customer_products", "customer_purchase_gaps")
# The temporary table a consumer reads its changed customers from (account, customer_key).
CHANGED_CUSTOMERS = "changed_customers"

_CREATE = """
CREATE TABLE IF NOT EXISTS customer_changes (seq BIGINT NOT NULL, account VARCHAR,
    customer_key VARCHAR);
CREATE TABLE IF NOT EXISTS customer_changes_applied (consumer VARCHAR PRIMARY KEY,
    seq BIGINT NOT NULL);
"""


def _next_seq(conn: duckdb.DuckDBPyConnection) -> int:
    """Above every number logged or applied, so numbers never repeat once the log is pruned."""
    conn.execute(_CREATE)
    return conn.execute(
        "SELECT greatest((SELECT coalesce(max(seq), 0) FROM customer_changes), "
        "(SELECT coalesce(max(seq), 0) FROM customer_changes_applied)) + 1"
    ).fetchall()[0][0]


def record_changed_customers(conn: duckdb.DuckDBPyConnection, customers_sql: str) -> int:
    """Log the (account, customer_key) rows of `customers_sql` as changed; returns how many."""
    seq = _next_seq(conn)
    conn.execute(
        f"INSERT INTO customer_changes SELECT DISTINCT {seq}, account, customer_key "
        f"FROM ({customers_sql}) WHERE customer_key IS NOT NULL"
    )
    return conn.execute("SELECT count(*) FROM customer_changes WHERE seq = ?", [seq]).fetchall()[0][
        0
    ]


def record_full_rebuild(conn: duckdb.DuckDBPyConnection) -> None:
    """Every customer may have changed (a build from scratch): earlier entries are moot."""
    seq = _next_seq(conn)
    conn.execute("DELETE FROM customer_changes")
    conn.execute("INSERT INTO customer_changes VALUES (?, NULL, NULL)", [seq])


@dataclass(frozen=True)
class PendingChanges:
    """What a consumer has to catch up on: everything, or the customers in CHANGED_CUSTOMERS."""

    everything: bool
    up_to: int  # the sequence number to mark applied once the consumer's work is committed
    customers: int  # how many changed customers (0 when everything)


def pending_changes(conn: duckdb.DuckDBPyConnection, consumer: str) -> PendingChanges:
    """The consumer's pending changes; fills the temporary CHANGED_CUSTOMERS table with the
    changed customers (empty when everything changed)."""
    conn.execute(_CREATE)
    applied = conn.execute(
        "SELECT seq FROM customer_changes_applied WHERE consumer = ?", [consumer]
    ).fetchall()
    since = applied[0][0] if applied else None
    up_to = conn.execute(
        "SELECT greatest(coalesce(max(seq), 0), ?) FROM customer_changes", [since or 0]
    ).fetchall()[0][0]
    everything = since is None or bool(
        conn.execute(
            "SELECT count(*) FROM customer_changes WHERE seq > ? AND account IS NULL", [since]
        ).fetchall()[0][0]
    )
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHANGED_CUSTOMERS} AS "
        "SELECT DISTINCT account, customer_key FROM customer_changes "
        "WHERE seq > ? AND account IS NOT NULL AND NOT ?",
        [since if since is not None else 0, everything],
    )
    count = conn.execute(f"SELECT count(*) FROM {CHANGED_CUSTOMERS}").fetchall()[0][0]
    return PendingChanges(everything=everything, up_to=up_to, customers=count)


def mark_applied(conn: duckdb.DuckDBPyConnection, consumer: str, up_to: int) -> None:
    """Call in the consumer's own transaction, so its rows and this mark commit together."""
    conn.execute("INSERT OR REPLACE INTO customer_changes_applied VALUES (?, ?)", [consumer, up_to])
    conn.execute(f"DROP TABLE IF EXISTS temp.main.{CHANGED_CUSTOMERS}")
    slowest = conn.execute(
        "SELECT min(coalesce(a.seq, 0)) FROM (SELECT unnest(?) AS consumer) c "
        "LEFT JOIN customer_changes_applied a USING (consumer)",
        [list(CONSUMERS)],
    ).fetchall()[0][0]
    conn.execute("DELETE FROM customer_changes WHERE seq <= ?", [slowest or 0])


def forget_applied(conn: duckdb.DuckDBPyConnection, consumer: str) -> None:
    """The consumer's rows no longer follow the log (built for a chosen day): its next update
    sees everything."""
    conn.execute(_CREATE)
    conn.execute("DELETE FROM customer_changes_applied WHERE consumer = ?", [consumer])
