"""What the model was last built from, so that a refresh can tell what is new since.

Beside the model tables, in the same transaction, the build records one fingerprint per input
item it read: each export file of each raw file asset (account, file hash), and each webhook
delivery (account, delivery hash; a day's partition grows as deliveries arrive, so the day
itself is no unit). A fingerprint is the item's row count and the sum of the hashes of its rows
as the model reads them (admitted partitions only), so a re-parse that changes any value, after
an alias fix say, is seen even when the file is the same. The record also names the customer-key
rule and a fingerprint of the model's SQL: either changing means the stored tables follow other
rules, and only a full rebuild brings them in line.

Comparing the record with the inputs now gives what was added (the incremental build's work),
and what was removed, re-parsed or newly left out (which only a full rebuild can take back out).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from ltv_core.formats.profiles import load_catalog
from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_EVENTS_ASSET

MODEL_INPUTS = "model_inputs"
MODEL_BUILD = "model_build"
# The inputs now, for the length of a build (a temporary table).
CURRENT_INPUTS = "current_model_inputs"
# The added items, for the length of a build (a temporary table): (asset, account, item).
ADDED_INPUTS = "added_model_inputs"

_CREATE = f"""
CREATE TABLE IF NOT EXISTS {MODEL_INPUTS} (asset VARCHAR NOT NULL, account VARCHAR NOT NULL,
    item VARCHAR NOT NULL, row_count BIGINT NOT NULL, fingerprint HUGEINT NOT NULL);
CREATE TABLE IF NOT EXISTS {MODEL_BUILD} (customer_key_rule VARCHAR NOT NULL,
    definition VARCHAR NOT NULL);
"""


def file_assets() -> list[str]:
    """The raw file assets the model reads (every export format of the catalog)."""
    return [p.asset for p in load_catalog().profiles.values()]


def item_column(asset: str) -> str:
    """The column naming an input item among an asset's rows."""
    return "delivery_hash" if asset == WEBHOOK_EVENTS_ASSET else "file_hash"


def raw_assets() -> list[str]:
    return [*file_assets(), WEBHOOK_EVENTS_ASSET]


def model_definition(parts: list[str]) -> str:
    """A fingerprint of the model's SQL and rule: stored tables built by other SQL are rebuilt."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class InputChanges:
    """The inputs now against the record of the last build."""

    recorded: bool  # False: no record (a first build, or a home from before the record)
    rule: str | None  # the customer-key rule the stored tables follow
    definition: str | None  # the fingerprint of the SQL the stored tables were built with
    added_files: int
    added_deliveries: int
    removed: list[str]  # described items, for the reason of a full rebuild
    modified: list[str]


def note_current_inputs(conn: duckdb.DuckDBPyConnection) -> None:
    """Fingerprint every input item as the model reads it now, into CURRENT_INPUTS."""
    members = [
        f"SELECT '{asset}' AS asset, account, {item_column(asset)} AS item, "
        f"count(*) AS row_count, sum(hash(r)) AS fingerprint FROM {asset} r GROUP BY ALL"
        for asset in raw_assets()
    ]
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {CURRENT_INPUTS} AS {' UNION ALL '.join(members)}")


def compare_inputs(conn: duckdb.DuckDBPyConnection) -> InputChanges:
    """The changes since the last build; fills ADDED_INPUTS. Needs note_current_inputs."""
    existing = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' "
        "AND database_name = current_database() AND list_contains(?, table_name)",
        [[MODEL_INPUTS, MODEL_BUILD]],
    ).fetchall()[0][0]
    conn.execute(_CREATE)
    build = conn.execute(f"SELECT customer_key_rule, definition FROM {MODEL_BUILD}").fetchall()
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {ADDED_INPUTS} AS SELECT asset, account, item "
        f"FROM {CURRENT_INPUTS} c ANTI JOIN {MODEL_INPUTS} m USING (asset, account, item)"
    )
    added = dict(
        conn.execute(
            f"SELECT asset = '{WEBHOOK_EVENTS_ASSET}', count(*) FROM {ADDED_INPUTS} GROUP BY ALL"
        ).fetchall()
    )
    describe = "m.asset || ' ' || m.account || '/' || m.item"
    removed = conn.execute(
        f"SELECT {describe} FROM {MODEL_INPUTS} m ANTI JOIN {CURRENT_INPUTS} c "
        "USING (asset, account, item) ORDER BY ALL"
    ).fetchall()
    modified = conn.execute(
        f"SELECT {describe} FROM {MODEL_INPUTS} m JOIN {CURRENT_INPUTS} c "
        "USING (asset, account, item) "
        "WHERE (m.row_count, m.fingerprint) IS DISTINCT FROM (c.row_count, c.fingerprint) "
        "ORDER BY ALL"
    ).fetchall()
    return InputChanges(
        recorded=existing == 2 and bool(build),
        rule=build[0][0] if build else None,
        definition=build[0][1] if build else None,
        added_files=added.get(False, 0),
        added_deliveries=added.get(True, 0),
        removed=[r[0] for r in removed],
        modified=[r[0] for r in modified],
    )


def record_inputs(conn: duckdb.DuckDBPyConnection, rule: str, definition: str) -> None:
    """The record of this build, in its transaction: the inputs it read, its rule and SQL."""
    conn.execute(_CREATE)
    conn.execute(f"DELETE FROM {MODEL_INPUTS}")
    conn.execute(f"INSERT INTO {MODEL_INPUTS} SELECT * FROM {CURRENT_INPUTS}")
    conn.execute(f"DELETE FROM {MODEL_BUILD}")
    conn.execute(f"INSERT INTO {MODEL_BUILD} VALUES (?, ?)", [rule, definition])


def forget_current_inputs(conn: duckdb.DuckDBPyConnection) -> None:
    for table in (CURRENT_INPUTS, ADDED_INPUTS):
        conn.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
