"""Damaged exports through the real loader on a real DuckDB file (issue 12, items 4-6).

Each file has a fault DuckDB's lenient reader used to mishandle: an unclosed quote swallowing
the lines after it, one oversized record failing the whole file, an accented byte or a NUL
beyond the first 64 KiB, UTF-16 text. Whatever the fault, every line after the header belongs
to exactly one record that is loaded or rejected, and the rest of the file loads.
"""

from __future__ import annotations

from pathlib import Path

from ltv_core.formats.profiles import FormatCatalog
from ltv_core.settings import DEFAULT_MAX_RECORD_BYTES
from ltv_pipeline.ingest.load_file import load_file
from tests.support import load

HEADER = "Order ID,Order Date,Price,Customer Email,Product Name\n"


def row(order_id: int, product: str = "Course") -> str:
    return f"{order_id},01/02/2024,$1,c{order_id}@example.com,{product}\n"


def stored(warehouse, column: str = "product_name") -> list[tuple]:
    return warehouse.execute(
        f"SELECT line_number, {column} FROM raw_samcart_orders ORDER BY line_number"
    ).fetchall()


def rejects(warehouse) -> list[tuple]:
    return warehouse.execute(
        "SELECT line_number, column_name, value, reason FROM rejects ORDER BY line_number"
    ).fetchall()


def test_an_unclosed_quote_is_one_rejected_record_not_lost_lines(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    path = tmp_path / "unclosed.csv"
    path.write_text(HEADER + row(1) + row(2, '"Course B') + row(3) + row(4))
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (2, 1, 1)
    assert stored(warehouse) == [(2, "Course")]
    [(line, column, value, reason)] = rejects(warehouse)
    assert line == 3 and column == "(row)"
    assert "quote opened on line 3 is not closed before line 5" in reason
    assert "lines 3-5" in reason
    assert value.startswith('2,01/02/2024,$1,c2@example.com,"Course B')


def test_an_unclosed_quote_within_its_own_line_is_read_as_duckdb_reads_it(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    """A quote problem that takes no other line (here on the last line) loses nothing."""
    path = tmp_path / "last-line.csv"
    path.write_text(HEADER + row(1) + row(2, '"Course B'))
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (2, 2, 0)


def test_a_quote_closed_lines_later_by_a_stray_quote_rejects_those_lines_only(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    """Two unclosed quotes: the second one closes the first, and what follows loads."""
    text = HEADER + row(1) + row(2, '"Course B') + row(3) + row(4, '"Course D') + row(5) + row(6)
    path = tmp_path / "two-unclosed.csv"
    path.write_text(text)
    result = load(warehouse, catalog, path)
    assert [line for line, _ in stored(warehouse)] == [2, 6, 7]
    [(line, _, _, reason)] = rejects(warehouse)
    assert line == 3
    assert "quote opened on line 3 is not closed before line 5" in reason
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (4, 3, 1)


def test_quoted_line_breaks_still_load_beside_a_damaged_record(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    text = HEADER + row(1, '"Two\r\nlines"') + "\n" + row(2) + row(3, '"never closed') + row(4)
    path = tmp_path / "mixed.csv"
    path.write_bytes(text.encode())
    result = load(warehouse, catalog, path)
    assert stored(warehouse) == [(2, "Two\r\nlines"), (5, "Course")]
    assert [(line, "is not closed before line 7" in r) for line, _, _, r in rejects(warehouse)] == [
        (6, True)
    ]
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (3, 2, 1)


def test_an_oversized_record_is_one_reject_and_the_rest_loads(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    path = tmp_path / "huge-cell.csv"
    huge = "x" * (20 * 1024 * 1024)
    path.write_text(HEADER + row(1) + row(2, huge) + row(3))
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (3, 2, 1)
    assert [line for line, _ in stored(warehouse)] == [2, 4]
    [(line, column, value, reason)] = rejects(warehouse)
    size = len(row(2, huge)) - 1
    assert (line, column) == (3, "(row)")
    assert f"{size:,} bytes" in reason and f"{DEFAULT_MAX_RECORD_BYTES:,} bytes" in reason
    assert len(value) < 200  # the reject quotes the start of the record, not 20 MB


def test_the_record_size_limit_is_a_setting_and_counts_quoted_line_breaks(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    path = tmp_path / "tall-cell.csv"
    tall = '"' + "line\n" * 1000 + '"'
    path.write_text(HEADER + row(1) + row(2, tall) + row(3))
    profile = catalog.profile("samcart-orders")
    from ltv_core.formats.csv_file import inspect_file

    result = load_file(
        warehouse,
        catalog=catalog,
        profile=profile,
        account="default",
        file_hash=inspect_file(path).sha256,
        path=path,
        file_name=path.name,
        partition_key=path.name,
        date_order="MDY",
        max_record_bytes=4096,
    )
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (3, 2, 1)
    assert [line for line, _ in stored(warehouse)] == [2, 1004]
    [(line, _, _, reason)] = rejects(warehouse)
    assert line == 3 and "4,096 bytes" in reason and "lines 3-1003" in reason


def test_an_accented_byte_after_64_kib_makes_the_file_latin_1(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    lines = [row(i) for i in range(1, 3000)]
    lines[2000] = row(2001, "Caf\xe9 Cr\xe8me")
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "".join(lines)).encode("latin-1"))
    assert path.read_bytes().index(b"\xe9") > 64 * 1024
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (2999, 2999, 0)
    assert result.encoding == "latin-1"
    name = "SELECT product_name FROM raw_samcart_orders WHERE line_number = 2002"
    assert warehouse.execute(name).fetchall() == [("Caf\xe9 Cr\xe8me",)]


def test_a_nul_byte_anywhere_rejects_its_record_only(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    lines = [row(i) for i in range(1, 3000)]
    lines[1] = row(2, "Early\x00Course")  # line 3: inside the first 64 KiB
    lines[2500] = row(2501, "Late\x00Course")  # line 2502: far beyond it
    path = tmp_path / "nul.csv"
    path.write_text(HEADER + "".join(lines))
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (2999, 2997, 2)
    found = [(line, column, value) for line, column, value, _ in rejects(warehouse)]
    assert found == [
        (3, "Product Name", "Early\x00Course"),
        (2502, "Product Name", "Late\x00Course"),
    ]
    assert "NUL" in rejects(warehouse)[0][3]
    nul = "SELECT count(*) FROM landed_samcart_orders WHERE contains(product_name, chr(0))"
    assert warehouse.execute(nul).fetchall() == [(0,)]


def test_utf_16_with_a_byte_order_mark_is_read(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    text = HEADER + row(1, "Caf\xe9") + row(2, '"Two\nlines"') + "\n" + row(3)
    path = tmp_path / "utf16.csv"
    path.write_bytes(text.encode("utf-16"))  # with its byte-order mark
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (3, 3, 0)
    assert result.encoding == "utf-16"
    assert stored(warehouse) == [(2, "Caf\xe9"), (3, "Two\nlines"), (6, "Course")]
    assert stored(warehouse, "customer_email")[0] == (2, "c1@example.com")
