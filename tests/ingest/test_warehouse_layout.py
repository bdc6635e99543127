"""Each file's landed table holds its records once (cells and typed values); the landed view
lists every file of a format, and the raw asset is the view of its accepted records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb

from ltv_core.formats.profiles import FormatCatalog
from ltv_pipeline.warehouse.connection import connect_warehouse
from ltv_pipeline.warehouse.landed import (
    file_table,
    landed_columns,
    raw_columns,
    store_file_records,
)
from tests.support import landed_file_tables, load, write_csv

# The key columns of the landed and raw tables of earlier layouts, which stored them on each row.
OLD_KEY_COLUMNS = (
    "account VARCHAR NOT NULL, file_hash VARCHAR NOT NULL, line_number BIGINT NOT NULL"
)


def table_type(conn: duckdb.DuckDBPyConnection, name: str) -> str:
    return conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()[0][0]


def write_two_table_layout(
    path: Path, catalog: FormatCatalog, first_email: str = "a@x.com"
) -> None:
    """A warehouse as the first layout wrote it, before schema versions: the cells in one
    table, the typed rows of the accepted records in another, and no source_files."""
    profile = catalog.profile("samcart-orders")
    old = duckdb.connect(str(path))
    cells = ", ".join(f'"{c.name}" VARCHAR' for c in profile.columns)
    typed = ", ".join(f'"{name}" {kind}' for name, kind in raw_columns(profile))
    old.execute(
        f"CREATE TABLE landed_samcart_orders ({OLD_KEY_COLUMNS}, {cells}, extra_columns JSON, "
        "overflow_cells VARCHAR)"
    )
    old.execute(f"CREATE TABLE raw_samcart_orders ({OLD_KEY_COLUMNS}, {typed})")
    old.execute(
        """INSERT INTO landed_samcart_orders (account, file_hash, line_number, order_id, price,
               customer_email, order_date)
           VALUES ('default', 'h', 2, '1001', '$47.00', ?, '01/02/2024'),
                  ('default', 'h', 3, '1002', 'oops', 'b@x.com', '01/02/2024')""",
        [first_email],
    )
    old.execute(
        """INSERT INTO raw_samcart_orders (account, file_hash, line_number, order_id, price,
               customer_email, order_date, ordered_at)
           VALUES ('default', 'h', 2, '1001', 47.00, 'a@x.com', DATE '2024-01-02',
                   TIMESTAMP '2024-01-02 00:00:00')"""
    )
    old.close()


def test_the_raw_asset_is_a_view_of_the_accepted_records(warehouse, catalog) -> None:
    assert table_type(warehouse, "raw_samcart_orders") == "VIEW"
    assert table_type(warehouse, "landed_samcart_orders") == "VIEW"
    store_file_records(
        warehouse,
        catalog.profile("samcart-orders"),
        "default",
        "h",
        """SELECT * FROM (VALUES (2, ' 1001 ', '', 'Course', 47.00, true),
                                 (3, '1002', '55501', 'Course', NULL, false))
           AS t(line_number, order_id, product_id, product_name, typed_price, accepted)""",
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
    path = tmp_path / "old.duckdb"
    write_two_table_layout(path, catalog, first_email="A@x.com")

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
    store_file_records(
        warehouse,
        catalog.profile("samcart-orders"),
        "default",
        "h",
        "SELECT 2 AS line_number, '4' AS order_id, 'P' AS product_name, "
        "'   ' AS customer_email, true AS accepted",
    )
    blank = warehouse.execute(
        "SELECT customer_email FROM raw_samcart_orders WHERE order_id = '4'"
    ).fetchall()
    assert blank == [(None,)]


def test_a_view_defined_by_an_older_version_is_replaced_on_open(
    tmp_path: Path, catalog: FormatCatalog
) -> None:
    path = tmp_path / "warehouse.duckdb"
    connect_warehouse(path).close()
    old = duckdb.connect(str(path))
    old.execute(
        "CREATE OR REPLACE VIEW raw_samcart_orders AS "
        "SELECT account, 'old' AS order_id FROM landed_samcart_orders"
    )
    store_file_records(
        old,
        catalog.profile("samcart-orders"),
        "default",
        "h",
        "SELECT 2 AS line_number, '1001' AS order_id, 'P' AS product_name, true AS accepted",
    )
    # The older version recorded the definitions it made the schema to.
    old.execute("UPDATE schema_version SET definitions = 'an older version'")
    old.close()
    conn = connect_warehouse(path)
    assert conn.execute("SELECT order_id FROM raw_samcart_orders").fetchall() == [("1001",)]
    conn.close()


def test_a_warehouse_with_one_landed_table_for_all_files_is_split_per_file(
    tmp_path: Path, catalog: FormatCatalog
) -> None:
    """Before each file had a table of its own, one table held every file's records: opening
    such a warehouse moves each file's records, lines and verdicts, to its own table."""
    path = tmp_path / "old.duckdb"
    connect_warehouse(path).close()
    old = duckdb.connect(str(path))
    old.execute("DROP TABLE schema_version")  # written before schema versions
    profile = catalog.profile("samcart-orders")
    columns = ", ".join(
        f'"{name}" {kind}' for name, kind in landed_columns(profile) if name != "accepted"
    )
    old.execute("DROP VIEW raw_samcart_orders")
    old.execute("DROP VIEW landed_samcart_orders")
    old.execute(f"CREATE TABLE landed_samcart_orders ({columns}, accepted BOOLEAN)")
    old.execute(
        """INSERT INTO landed_samcart_orders (account, file_hash, line_number, order_id,
               product_name, customer_email, typed_price, typed_order_date, typed_ordered_at,
               accepted)
           VALUES ('default', 'a', 2, '1', 'P', 'a@x.com', 1, '2024-01-02', '2024-01-02', true),
                  ('default', 'a', 5, '2', 'P', 'b@x.com', NULL, NULL, NULL, false),
                  ('shop', 'b', 3, '3', 'P', 'c@x.com', 3, '2024-01-03', '2024-01-03', true)"""
    )
    # A header-only export was listed, with no records.
    old.execute(
        "INSERT INTO source_files (account, file_hash, format) "
        "VALUES ('default', 'a', 'samcart-orders'), ('default', 'e', 'samcart-orders')"
    )
    old.close()

    conn = connect_warehouse(path)
    assert table_type(conn, "landed_samcart_orders") == "VIEW"
    assert landed_file_tables(conn) == [
        "samcart_orders/default/a",
        "samcart_orders/default/e",
        "samcart_orders/shop/b",
    ]
    landed = conn.execute(
        "SELECT account, file_hash, line_number, order_id, accepted FROM landed_samcart_orders "
        "ORDER BY ALL"
    ).fetchall()
    assert landed == [
        ("default", "a", 2, "1", True),
        ("default", "a", 5, "2", False),
        ("shop", "b", 3, "3", True),
    ]
    rows = conn.execute("SELECT order_id, price FROM raw_samcart_orders ORDER BY 1").fetchall()
    assert rows == [("1", Decimal("1.00")), ("3", Decimal("3.00"))]
    conn.close()


def test_a_file_table_holds_only_the_files_columns_and_lines_follow_its_records(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    """Columns the file does not have are not stored (the view gives NULL); a record's line
    comes from its position while every record is one line, and is stored when one is not."""
    simple = "Order ID,Order Date,Price,Customer Email,Product Name\n1,01/02/2024,$1,a@b.c,P\n"
    load(
        warehouse, catalog, write_csv(tmp_path / "simple.csv", simple + "2,01/02/2024,$2,b@b.c,Q\n")
    )
    quoted = simple + '2,01/02/2024,$2,b@b.c,"Two\nlines"\n\n3,01/02/2024,$3,c@b.c,R\n'
    load(warehouse, catalog, write_csv(tmp_path / "quoted.csv", quoted))
    tables = landed_file_tables(warehouse)
    assert len(tables) == 2
    for name in tables:
        stored = [
            column
            for (column,) in warehouse.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'landed' "
                "AND table_name = ?",
                [name],
            ).fetchall()
        ]
        assert "quantity" not in stored and "typed_quantity" not in stored
        assert "order_id" in stored and "typed_price" in stored
    # Each column has the type the landed view declares for it.
    declared = dict(landed_columns(catalog.profile("samcart-orders")))
    stored_types = warehouse.execute(
        "SELECT DISTINCT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'landed'"
    ).fetchall()
    assert all(declared[name] == kind for name, kind in stored_types), stored_types
    lines = warehouse.execute(
        "SELECT f.file_name, l.order_id, l.line_number, l.quantity FROM landed_samcart_orders l "
        "JOIN source_files f USING (account, file_hash) ORDER BY ALL"
    ).fetchall()
    assert lines == [
        ("quoted.csv", "1", 2, None),
        ("quoted.csv", "2", 3, None),
        ("quoted.csv", "3", 6, None),
        ("simple.csv", "1", 2, None),
        ("simple.csv", "2", 3, None),
    ]


def test_a_file_table_left_by_a_killed_load_is_dropped_on_open(
    tmp_path: Path, catalog: FormatCatalog
) -> None:
    path = tmp_path / "warehouse.duckdb"
    conn = connect_warehouse(path)
    load(
        conn,
        catalog,
        write_csv(
            tmp_path / "o.csv",
            "Order ID,Order Date,Price,Customer Email,Product Name\n1,01/02/2024,$1,a@b.c,P\n",
        ),
    )
    kept = landed_file_tables(conn)
    loading = file_table(catalog.profile("samcart-orders"), "default", "f", loading=True)
    conn.execute(f"CREATE TABLE {loading} AS SELECT 1 AS x")
    conn.close()
    conn = connect_warehouse(path)
    assert landed_file_tables(conn) == kept
    assert conn.execute("SELECT count(*) FROM raw_samcart_orders").fetchall() == [(1,)]
    conn.close()
