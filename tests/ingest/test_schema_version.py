"""The warehouse records its schema version: a migration runs once per warehouse, and an open
of a current warehouse only reads the record (and clears what a killed load left)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ltv_core.formats.profiles import FormatCatalog
from ltv_pipeline.contracts.left_out import left_out_partitions
from ltv_pipeline.warehouse.connection import connect_warehouse
from ltv_pipeline.warehouse.landed import file_table, raw_columns
from ltv_pipeline.warehouse.migrations import CURRENT_VERSION
from ltv_pipeline.warehouse.schema import definitions
from ltv_pipeline.warehouse.schema_version import NewerWarehouse, stored_version
from tests.ingest.test_warehouse_layout import OLD_KEY_COLUMNS, table_type, write_two_table_layout
from tests.support import landed_file_tables


def test_a_new_warehouse_is_made_at_the_current_version(tmp_path: Path) -> None:
    conn = connect_warehouse(tmp_path / "warehouse.duckdb")
    assert stored_version(conn) == (CURRENT_VERSION, definitions())
    assert table_type(conn, "raw_samcart_orders") == "VIEW"
    assert conn.execute("SELECT count(*) FROM webhook_deliveries").fetchall() == [(0,)]
    conn.close()


def test_an_old_layout_is_migrated_once(tmp_path: Path, catalog: FormatCatalog) -> None:
    path = tmp_path / "old.duckdb"
    write_two_table_layout(path, catalog)

    conn = connect_warehouse(path)
    assert stored_version(conn) == (CURRENT_VERSION, definitions())
    assert landed_file_tables(conn) == ["samcart_orders/default/h"]
    rows = conn.execute(
        "SELECT line_number, order_id, price, order_date FROM raw_samcart_orders"
    ).fetchall()
    assert rows == [(2, "1001", Decimal("47.00"), dt.date(2024, 1, 2))]
    landed = conn.execute(
        "SELECT line_number, price, accepted FROM landed_samcart_orders ORDER BY 1"
    ).fetchall()
    assert landed == [(2, "$47.00", True), (3, "oops", False)]
    # A table of the first layout made now would be migrated by an open that looked for one.
    conn.execute("DROP VIEW raw_samcart_orders")
    conn.execute(f"CREATE TABLE raw_samcart_orders ({OLD_KEY_COLUMNS}, order_id VARCHAR)")
    conn.close()

    conn = connect_warehouse(path)
    assert table_type(conn, "raw_samcart_orders") == "BASE TABLE"  # not looked for: left alone
    assert stored_version(conn) == (CURRENT_VERSION, definitions())
    conn.close()


def test_a_current_warehouse_from_before_versioning_is_recorded_and_kept(
    tmp_path: Path, catalog: FormatCatalog
) -> None:
    """The layout the code wrote just before schema versions: nothing moves, the record is
    added."""
    path = tmp_path / "warehouse.duckdb"
    conn = connect_warehouse(path)
    conn.execute("DROP TABLE schema_version")
    conn.close()
    conn = connect_warehouse(path)
    assert stored_version(conn) == (CURRENT_VERSION, definitions())
    assert table_type(conn, "landed_samcart_orders") == "VIEW"
    conn.close()


def test_a_file_table_left_by_a_killed_load_is_dropped_when_the_schema_is_current(
    tmp_path: Path, catalog: FormatCatalog
) -> None:
    path = tmp_path / "warehouse.duckdb"
    profile = catalog.profile("samcart-orders")
    conn = connect_warehouse(path)
    for account, file_hash in [("default", "a"), ("shop", "b")]:
        conn.execute(
            f"CREATE TABLE {file_table(profile, account, file_hash, loading=True)} (x INT)"
        )
    conn.close()
    conn = duckdb.connect(str(path))
    assert stored_version(conn) == (CURRENT_VERSION, definitions())  # nothing to migrate
    conn.close()
    conn = connect_warehouse(path)
    assert landed_file_tables(conn) == []
    conn.close()


def test_a_warehouse_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    """A newer version's migrations are unknown here: carrying on could undo them."""
    path = tmp_path / "warehouse.duckdb"
    connect_warehouse(path).close()
    newer = duckdb.connect(str(path))
    newer.execute("UPDATE schema_version SET version = ?, definitions = 'newer'", [99])
    newer.close()
    with pytest.raises(NewerWarehouse, match=f"schema version 99.*up to {CURRENT_VERSION}"):
        connect_warehouse(path)
    conn = duckdb.connect(str(path))  # refused without changing anything
    assert stored_version(conn) == (99, "newer")
    conn.close()


def test_a_left_out_file_from_before_named_keys_gets_its_rows_named(tmp_path: Path) -> None:
    """Migration 3: a verdict under an old `<account>_<sha256>` key names the rows it leaves out
    (the model reads them there), and a webhook day's verdict names none."""
    path = tmp_path / "warehouse.duckdb"
    connect_warehouse(path).close()
    old = duckdb.connect(str(path))
    old.execute("DROP TABLE left_out_partitions")
    old.execute(
        "CREATE TABLE left_out_partitions (asset VARCHAR NOT NULL, partition_key VARCHAR NOT "
        "NULL, reason VARCHAR NOT NULL, since TIMESTAMP NOT NULL, PRIMARY KEY (asset, "
        "partition_key))"
    )
    old.execute(
        "INSERT INTO left_out_partitions VALUES "
        f"('raw_samcart_orders', 'store_b_{'ab' * 32}', 'bad', TIMESTAMP '2026-01-01'), "
        "('raw_samcart_webhook_events', '2026-01-02', 'bad', TIMESTAMP '2026-01-02')"
    )
    old.execute("UPDATE schema_version SET version = 2, definitions = ''")
    old.close()
    conn = connect_warehouse(path)
    assert stored_version(conn) == (CURRENT_VERSION, definitions())
    assert [(p.partition_key, p.account, p.file_hash) for p in left_out_partitions(conn)] == [
        (f"store_b_{'ab' * 32}", "store_b", "ab" * 32),
        ("2026-01-02", None, None),
    ]
    conn.close()


def test_a_two_table_layout_under_a_former_asset_name_keeps_that_name(
    tmp_path: Path, catalog: FormatCatalog
) -> None:
    """Migrations 1 and 4: typed rows stored under the name a raw asset had then
    (raw_samcart_recurring_subscriptions) move beside their cells, and the former name stays a
    view of them, as it does for a later warehouse: a user's view over it still answers."""
    profile = catalog.profile("samcart-recurring-subscriptions")
    [former] = profile.former_assets
    path = tmp_path / "warehouse.duckdb"
    old = duckdb.connect(str(path))
    cells = ", ".join(f'"{c.name}" VARCHAR' for c in profile.columns)
    old.execute(
        f"CREATE TABLE landed_samcart_recurring_subscriptions ({OLD_KEY_COLUMNS}, {cells}, "
        "extra_columns JSON, overflow_cells VARCHAR)"
    )
    typed = ", ".join(f'"{name}" {kind}' for name, kind in raw_columns(profile))
    old.execute(f"CREATE TABLE {former} ({OLD_KEY_COLUMNS}, {typed})")
    for table in ("landed_samcart_recurring_subscriptions", former):
        old.execute(
            f"INSERT INTO {table} (account, file_hash, line_number, subscription_id) "
            "VALUES ('default', 'h', 2, '7001')"
        )
    old.execute(f"CREATE VIEW my_subscriptions AS SELECT subscription_id FROM {former}")
    old.close()

    conn = connect_warehouse(path)
    assert conn.execute(f"SELECT subscription_id FROM {profile.asset}").fetchall() == [("7001",)]
    assert table_type(conn, former) == "VIEW"
    assert conn.execute("SELECT * FROM my_subscriptions").fetchall() == [("7001",)]
    conn.close()
