"""Landing and parsing whole files into a real DuckDB file: the raw assets' body."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest

from ltv_core.formats.csv_file import CsvFileError, inspect_file
from ltv_core.formats.profiles import FormatCatalog
from ltv_pipeline.ingest.load_file import load_file
from tests.support import (
    LIMITED_SAMPLE,
    ORDERS_SAMPLE,
    RECURRING_SAMPLE,
    landed_file_tables,
    load,
    write_csv,
)

NASTY_ORDERS = (
    # Reordered columns, an unknown column, a BOM, CRLF, quoted commas, doubled quotes,
    # a quoted newline, thousands separators, blank lines inside and blank rows at the end.
    "Customer Email,Price,Order ID,Product Name,Order Date,Order Status,UTM Campaign,Product ID\n"
    '" Ada@Example.COM ","$1,234.50",1001,"Swipe File, Vol. 1",01/10/2024,Charged,spring,55503\n'
    "\n"
    'grace@navy.example,$97.00,1002,"Mastermind ""VIP""\nDay",02/29/2024,charged,,55510\n'
    "alan@bletchley.example,($5.00),1003,Refund Adjustment,03/01/2024,Refunded,,\n"
    ",,,,,,,\n"
    "\n"
)


def test_golden_nasty_orders_file(tmp_path: Path, warehouse, catalog: FormatCatalog) -> None:
    path = write_csv(tmp_path / "nasty.csv", NASTY_ORDERS, bom=True, crlf=True)
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (3, 3, 0)
    rows = warehouse.execute(
        "SELECT line_number, order_id, product_id, product_name, price, customer_email, "
        "order_date, order_status, extra_columns::VARCHAR FROM raw_samcart_orders "
        "ORDER BY line_number"
    ).fetchall()
    assert rows == [
        (
            2,
            "1001",
            "55503",
            "Swipe File, Vol. 1",
            Decimal("1234.50"),
            "ada@example.com",
            dt.date(2024, 1, 10),
            "charged",
            '{"UTM Campaign":"spring"}',
        ),
        (
            4,
            "1002",
            "55510",
            'Mastermind "VIP"\r\nDay',
            Decimal("97.00"),
            "grace@navy.example",
            dt.date(2024, 2, 29),
            "charged",
            None,  # no unknown cell had a value
        ),
        (
            6,
            "1003",
            "Refund Adjustment",
            "Refund Adjustment",
            Decimal("-5.00"),
            "alan@bletchley.example",
            dt.date(2024, 3, 1),
            "refunded",
            None,  # no unknown cell had a value
        ),
    ]
    landed = warehouse.execute(
        "SELECT price, customer_email FROM landed_samcart_orders ORDER BY line_number"
    ).fetchall()
    assert landed[0] == ("$1,234.50", " Ada@Example.COM ")  # the text exactly as it arrived


def test_the_three_samples_load_with_their_row_counts(warehouse, catalog: FormatCatalog) -> None:
    counts = [
        load(warehouse, catalog, ORDERS_SAMPLE).rows_accepted,
        load(warehouse, catalog, RECURRING_SAMPLE, "samcart-recurring-subscriptions").rows_accepted,
        load(warehouse, catalog, LIMITED_SAMPLE, "samcart-limited-subscriptions").rows_accepted,
    ]
    assert counts == [10, 3, 3]
    total = warehouse.execute("SELECT sum(price) FROM raw_samcart_orders").fetchone()[0]
    assert total == Decimal("3866.00")
    plan = warehouse.execute(
        "SELECT status, recurring_price, frequency, charges_made, plan_payments, total_collected "
        "FROM raw_samcart_payment_plans WHERE subscription_id = '8003'"
    ).fetchone()
    assert plan == ("delinquent", Decimal("300.00"), "monthly", 1, 3, Decimal("300.00"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_k_bad_rows_out_of_n_give_exactly_k_rejects(
    tmp_path: Path, warehouse, catalog: FormatCatalog, seed: int
) -> None:
    rng = random.Random(seed)
    n = 200
    breakers = [
        ("Order Date", lambda r: r.update(date="02/30/2024")),
        ("Price", lambda r: r.update(price="twelve")),
        ("Customer Email", lambda r: r.update(email="nobody")),
        ("Order ID", lambda r: r.update(order_id="")),
        ("Order Status", lambda r: r.update(status="Exploded")),
    ]
    bad_lines: dict[int, str] = {}
    lines = ["Order ID,Order Date,Order Status,Product ID,Product Name,Price,Customer Email"]
    for i in range(n):
        row = {
            "order_id": str(5000 + i),
            "date": "01/15/2024",
            "status": "Charged",
            "price": f"${rng.randint(0, 2000)}.00",
            "email": f"c{i}@example.com",
        }
        if rng.random() < 0.2:
            column, breaker = rng.choice(breakers)
            breaker(row)
            bad_lines[i + 2] = column
        lines.append(
            f'{row["order_id"]},{row["date"]},{row["status"]},77,Course,"{row["price"]}",'
            f"{row['email']}"
        )
    path = write_csv(tmp_path / "orders.csv", "\n".join(lines) + "\n")
    result = load(warehouse, catalog, path)
    k = len(bad_lines)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (n, n - k, k)
    rejects = dict(warehouse.execute("SELECT line_number, column_name FROM rejects").fetchall())
    assert rejects == bad_lines
    reasons = warehouse.execute("SELECT DISTINCT reason FROM rejects").fetchall()
    assert all(reason[0] for reason in reasons)


def test_reloading_a_file_replaces_its_rows_and_changes_nothing(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    path = write_csv(tmp_path / "nasty.csv", NASTY_ORDERS + "x,y\n", bom=True, crlf=True)
    load(warehouse, catalog, path)
    tables = ["raw_samcart_orders", "landed_samcart_orders", "rejects", "source_files"]
    before = {t: warehouse.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    load(warehouse, catalog, path)
    after = {t: warehouse.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    assert before == after
    assert len(before["rejects"]) > 0


def test_accounts_keep_the_same_file_apart(warehouse, catalog: FormatCatalog) -> None:
    load(warehouse, catalog, ORDERS_SAMPLE, account="store-a")
    load(warehouse, catalog, ORDERS_SAMPLE, account="store-b")
    counts = warehouse.execute(
        "SELECT account, count(*) FROM raw_samcart_orders GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert counts == [("store-a", 10), ("store-b", 10)]


def test_a_header_only_file_loads_zero_rows(tmp_path: Path, warehouse, catalog) -> None:
    path = write_csv(
        tmp_path / "empty.csv", ORDERS_SAMPLE.read_text(encoding="utf-8-sig").splitlines()[0] + "\n"
    )
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (0, 0, 0)


def test_rows_with_more_cells_than_the_header_are_rejected(tmp_path: Path, warehouse, catalog):
    text = "Order ID,Order Date,Price,Customer Email,Product Name\n1,01/01/2024,$1,a@b.c,P,extra\n"
    result = load(warehouse, catalog, write_csv(tmp_path / "wide.csv", text))
    assert result.rows_rejected == 1
    assert "more cells than the 5 columns" in result.first_reasons[0]


CHANGED_COPIES = {
    "lines edited": lambda text: text.replace("\n", "\r\n").encode(),
    "header renamed": lambda text: text.replace("Order ID", "Reference", 1).encode(),
    "emptied": lambda text: b"",
    "overwritten by a workbook": lambda text: b"PK\x03\x04" + text.encode(),
}


@pytest.mark.parametrize("change", CHANGED_COPIES)
def test_a_changed_archive_copy_is_refused_as_changed(
    tmp_path: Path, warehouse, catalog, change: str
) -> None:
    """Whatever happened to the copy, the answer is that it changed, not what it now looks
    like; what was stored stays, and no temporary copy of the file is left behind."""
    load(warehouse, catalog, ORDERS_SAMPLE)
    before = warehouse.execute("SELECT * FROM landed_samcart_orders ORDER BY ALL").fetchall()
    path = tmp_path / "o.csv"
    path.write_bytes(CHANGED_COPIES[change](ORDERS_SAMPLE.read_text(encoding="utf-8-sig")))
    with pytest.raises(CsvFileError, match="no longer matches"):
        load_file(
            warehouse,
            catalog=catalog,
            profile=catalog.profile("samcart-orders"),
            account="default",
            file_hash=inspect_file(ORDERS_SAMPLE).sha256,
            path=path,
            file_name="o.csv",
            partition_key="o.csv",
            date_order="MDY",
        )
    after = warehouse.execute("SELECT * FROM landed_samcart_orders ORDER BY ALL").fetchall()
    assert after == before
    temporary = "SELECT count(*) FROM duckdb_tables() WHERE temporary"
    assert warehouse.execute(temporary).fetchall() == [(0,)]
    assert landed_file_tables(warehouse) == [
        f"samcart_orders/default/{inspect_file(ORDERS_SAMPLE).sha256}"
    ]


def test_a_record_with_only_optional_cells_is_rejected_not_skipped(
    tmp_path: Path, warehouse, catalog
) -> None:
    text = (
        "Order ID,Order Date,Price,Customer Email,Product Name,Customer First Name\n"
        "1,01/02/2024,$1,a@b.c,P,Ann\n"
        ",,,,,Bob\n"
        ",,,,,  \n"
    )
    result = load(warehouse, catalog, write_csv(tmp_path / "o.csv", text))
    # Line 3 has a value, so it is a record missing its required ones; line 4 is blank.
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (2, 1, 1)
    assert all(reason.startswith("line 3, column ") for reason in result.first_reasons)
    assert "line 3, column Order ID: required value is missing" in result.first_reasons


def test_day_order_is_a_setting(tmp_path: Path, warehouse, catalog) -> None:
    text = "Order ID,Order Date,Price,Customer Email,Product Name\n1,03/04/2024,$1,a@b.c,P\n"
    path = write_csv(tmp_path / "dmy.csv", text)
    load_file(
        warehouse,
        catalog=catalog,
        profile=catalog.profile("samcart-orders"),
        account="default",
        file_hash=inspect_file(path).sha256,
        path=path,
        file_name="dmy.csv",
        partition_key="dmy.csv",
        date_order="DMY",
    )
    stored = warehouse.execute("SELECT order_date FROM raw_samcart_orders").fetchone()[0]
    assert stored == dt.date(2024, 4, 3)


def test_a_failure_half_way_keeps_what_was_stored(
    tmp_path: Path, warehouse, catalog, monkeypatch
) -> None:
    load(warehouse, catalog, ORDERS_SAMPLE)
    before = warehouse.execute("SELECT * FROM raw_samcart_orders ORDER BY ALL").fetchall()

    def broken_contract(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("ltv_pipeline.contracts.raw_files.contract_failures", broken_contract)
    with pytest.raises(RuntimeError, match="disk full"):
        load(warehouse, catalog, ORDERS_SAMPLE)
    after = warehouse.execute("SELECT * FROM raw_samcart_orders ORDER BY ALL").fetchall()
    landed = warehouse.execute("SELECT count(*) FROM landed_samcart_orders").fetchall()[0][0]
    assert after == before
    assert landed == 10
    assert landed_file_tables(warehouse) == [
        f"samcart_orders/default/{inspect_file(ORDERS_SAMPLE).sha256}"
    ]


@pytest.mark.parametrize("index", [0, None])
def test_contract_failures_reject_their_row_and_keep_the_rest(
    warehouse, catalog, monkeypatch, index
) -> None:
    """A row the contract refuses is a reject; one without a row number never empties the file."""
    import polars as pl

    def one_failure(frame, profile, catalog):
        return pl.DataFrame(
            {
                "failure_case": ["x"],
                "column": ["customer_email"],
                "check": ["str_matches"],
                "index": [index],
            },
            schema={
                "failure_case": pl.Utf8,
                "column": pl.Utf8,
                "check": pl.Utf8,
                "index": pl.Int32,
            },
        )

    monkeypatch.setattr("ltv_pipeline.contracts.raw_files.contract_failures", one_failure)
    result = load(warehouse, catalog, ORDERS_SAMPLE)
    expected_stored = 9 if index == 0 else 10
    assert result.rows_accepted == expected_stored
    reasons = warehouse.execute("SELECT line_number, reason FROM rejects").fetchall()
    assert [reason for _, reason in reasons] == ["contract check failed: str_matches"]
    assert reasons[0][0] == (2 if index == 0 else None)
    # This contract refuses a row every time: what it still finds among the rows that stay is
    # the check's verdict, reported by file line (line 3 is the first row left), not row index.
    assert result.contract_failures.get_column("line_number").to_list() == [
        3 if index == 0 else None
    ]
