"""The landed table holds each record once (cells and typed values); the raw asset is its view."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb

from ltv_pipeline.formats.profiles import FormatCatalog
from ltv_pipeline.lib.tables import KEY_COLUMNS, raw_columns
from ltv_pipeline.lib.warehouse import connect_warehouse
from tests.support import load, write_csv


def table_type(conn: duckdb.DuckDBPyConnection, name: str) -> str:
    return conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()[0][0]


def test_the_raw_asset_is_a_view_of_the_accepted_records(warehouse) -> None:
    assert table_type(warehouse, "raw_samcart_orders") == "VIEW"
    assert table_type(warehouse, "landed_samcart_orders") == "BASE TABLE"
    warehouse.execute(
        """INSERT INTO landed_samcart_orders (account, file_hash, line_number, order_id,
               product_id, product_name, typed_price, accepted)
           VALUES ('default', 'h', 2, ' 1001 ', '', 'Course', 47.00, true),
                  ('default', 'h', 3, '1002', '55501', 'Course', NULL, false)"""
    )
    rows = warehouse.execute(
        "SELECT line_number, order_id, product_id, price FROM raw_samcart_orders"
    ).fetchall()
    # Text is the cell trimmed (empty is NULL, so the product id falls back to the name).
    assert rows == [(2, "1001", "Course", Decimal("47.00"))]


def test_a_warehouse_in_the_two_table_layout_is_merged_without_reparsing(
    tmp_path: Path, catalog: FormatCatalog
) -> None:
    """Before the one-table layout, typed rows had a table of their own; opening such a warehouse
    moves their values beside the cells, keeps rejected records landed, and loses nothing."""
    profile = catalog.profile("samcart-orders")
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    cells = ", ".join(f'"{c.name}" VARCHAR' for c in profile.columns)
    typed = ", ".join(f'"{name}" {kind}' for name, kind in raw_columns(profile))
    old.execute(
        f"CREATE TABLE landed_samcart_orders ({KEY_COLUMNS}, {cells}, extra_columns JSON, "
        "overflow_cells VARCHAR)"
    )
    old.execute(f"CREATE TABLE raw_samcart_orders ({KEY_COLUMNS}, {typed})")
    old.execute(
        """INSERT INTO landed_samcart_orders (account, file_hash, line_number, order_id, price,
               customer_email, order_date)
           VALUES ('default', 'h', 2, '1001', '$47.00', 'A@x.com', '01/02/2024'),
                  ('default', 'h', 3, '1002', 'oops', 'b@x.com', '01/02/2024')"""
    )
    old.execute(
        """INSERT INTO raw_samcart_orders (account, file_hash, line_number, order_id, price,
               customer_email, order_date, ordered_at)
           VALUES ('default', 'h', 2, '1001', 47.00, 'a@x.com', DATE '2024-01-02',
                   TIMESTAMP '2024-01-02 00:00:00')"""
    )
    old.close()

    conn = connect_warehouse(path)
    assert table_type(conn, "raw_samcart_orders") == "VIEW"
    rows = conn.execute(
        "SELECT line_number, order_id, price, customer_email, order_date, ordered_at "
        "FROM raw_samcart_orders"
    ).fetchall()
    assert rows == [
        (2, "1001", Decimal("47.00"), "a@x.com", dt.date(2024, 1, 2), dt.datetime(2024, 1, 2))
    ]
    landed = conn.execute(
        "SELECT line_number, price, accepted FROM landed_samcart_orders ORDER BY 1"
    ).fetchall()
    assert landed == [(2, "$47.00", True), (3, "oops", False)]
    conn.close()
    # Opening it again changes nothing.
    conn = connect_warehouse(path)
    assert conn.execute("SELECT count(*) FROM raw_samcart_orders").fetchall()[0][0] == 1
    conn.close()


def test_typed_text_is_stored_only_where_parsing_changed_the_cell(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    text = (
        "Order ID,Order Date,Price,Customer Email,Product Name,Order Status\n"
        "1,01/02/2024,$1, Ann@X.com ,P,Charged\n"
        "2,01/02/2024,$1,bob@x.com,P,charged\n"
        "3,01/02/2024,$1,\tcy@x.com,P,refunded \n"
    )
    load(warehouse, catalog, write_csv(tmp_path / "o.csv", text))
    stored = warehouse.execute(
        "SELECT typed_customer_email, typed_order_status FROM landed_samcart_orders "
        "ORDER BY line_number"
    ).fetchall()
    # The email key and the status spelling stay NULL where they equal the trimmed cell.
    assert stored == [("ann@x.com", "charged"), (None, None), ("cy@x.com", None)]
    rows = warehouse.execute(
        "SELECT order_id, customer_email, order_status FROM raw_samcart_orders ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("1", "ann@x.com", "charged"),
        ("2", "bob@x.com", "charged"),
        ("3", "cy@x.com", "refunded"),
    ]
    # A record whose cell was blank has no value, not its blank cell.
    warehouse.execute(
        """INSERT INTO landed_samcart_orders (account, file_hash, line_number, order_id,
               product_name, customer_email, accepted)
           VALUES ('default', 'h', 2, '4', 'P', '   ', true)"""
    )
    blank = warehouse.execute(
        "SELECT customer_email FROM raw_samcart_orders WHERE order_id = '4'"
    ).fetchall()
    assert blank == [(None,)]


def test_a_view_defined_by_an_older_version_is_replaced_on_open(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    connect_warehouse(path).close()
    old = duckdb.connect(str(path))
    old.execute(
        "CREATE OR REPLACE VIEW raw_samcart_orders AS "
        "SELECT account, 'old' AS order_id FROM landed_samcart_orders"
    )
    old.execute(
        """INSERT INTO landed_samcart_orders (account, file_hash, line_number, order_id,
               product_name, accepted) VALUES ('default', 'h', 2, '1001', 'P', true)"""
    )
    old.close()
    conn = connect_warehouse(path)
    assert conn.execute("SELECT order_id FROM raw_samcart_orders").fetchall() == [("1001",)]
    conn.close()
