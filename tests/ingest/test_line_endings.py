"""Files whose lines end in CR alone ("classic Mac"), or in a mix of CR LF, LF and CR, through
the real loader on a real DuckDB file.

A line ends at CR LF, LF or CR, as a text editor shows it: every record is loaded or rejected
at the line it starts on there, and the counts add up.
"""

from __future__ import annotations

from pathlib import Path

from ltv_core.formats.profiles import FormatCatalog
from tests.support import load

HEADER = "Order ID,Order Date,Price,Customer Email,Product Name"


def row(order_id: int, product: str = "Course", price: str = "$1") -> str:
    return f"{order_id},01/02/2024,{price},c{order_id}@example.com,{product}"


def stored(warehouse) -> list[tuple]:
    return warehouse.execute(
        "SELECT line_number, order_id, product_name FROM raw_samcart_orders ORDER BY line_number"
    ).fetchall()


def rejects(warehouse) -> list[tuple]:
    return warehouse.execute(
        "SELECT line_number, column_name, reason FROM rejects ORDER BY line_number"
    ).fetchall()


def test_a_bare_cr_file_loads_every_record_at_its_line(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    rows = [row(i) for i in range(1, 11)]
    rows[4] = row(5, price="not a price")  # line 6
    path = tmp_path / "mac.csv"
    path.write_bytes(("\r".join([HEADER, *rows]) + "\r").encode())
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (10, 9, 1)
    assert result.breach is None and result.contract_failures.is_empty()
    assert [(line, order_id) for line, order_id, _ in stored(warehouse)] == [
        (line, str(line - 1)) for line in (2, 3, 4, 5, 7, 8, 9, 10, 11)
    ]
    [(line, column, _)] = rejects(warehouse)
    assert (line, column) == (6, "Price")


def test_a_bare_cr_file_with_blank_lines_and_a_quoted_line_break(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    """Blank lines and a cell over two lines add lines without records: the lines after them
    are still numbered as an editor numbers them."""
    lines = ["", HEADER, row(1), "", row(2, '"Two\rlines"'), row(3), "", ""]
    path = tmp_path / "mac-blank.csv"
    path.write_bytes("\r".join(lines).encode())
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (3, 3, 0)
    assert result.breach is None
    assert stored(warehouse) == [(3, "1", "Course"), (5, "2", "Two\rlines"), (7, "3", "Course")]


def test_an_unclosed_quote_in_a_bare_cr_file_names_its_lines(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    path = tmp_path / "mac-unclosed.csv"
    lines = [HEADER, row(1), row(2, '"Course B'), row(3), row(4)]
    path.write_bytes(("\r".join(lines) + "\r").encode())
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (2, 1, 1)
    assert stored(warehouse) == [(2, "1", "Course")]
    [(line, column, reason)] = rejects(warehouse)
    assert (line, column) == (3, "(row)")
    assert "quote opened on line 3 is not closed before line 5" in reason


def test_mixed_line_ends_keep_every_cell_and_line(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    """CR LF lines with a CR alone among them: DuckDB's reader takes the byte after that CR for
    the line feed it expects and drops it, so such a file is read record by record."""
    text = (
        HEADER + "\r\n" + row(1) + "\r\n" + row(2, "Bonus") + "\r" + row(3, "Course C") + "\r\n"
        + row(4) + "\n" + row(5) + "\r\n"
    )  # fmt: skip
    path = tmp_path / "mixed.csv"
    path.write_bytes(text.encode())
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (5, 5, 0)
    assert result.breach is None
    assert stored(warehouse) == [
        (2, "1", "Course"),
        (3, "2", "Bonus"),
        (4, "3", "Course C"),
        (5, "4", "Course"),
        (6, "5", "Course"),
    ]


def test_a_cell_holding_a_cr_alone_survives_record_reading(
    tmp_path: Path, warehouse, catalog: FormatCatalog
) -> None:
    """The NUL byte sends the file to record reading, whose clean copy must keep the CR inside
    its cell (written unquoted, DuckDB took it for a line end and read two records)."""
    lines = [HEADER, row(1, '"Mac\rnote"'), row(2, "x\x00y"), row(3)]
    path = tmp_path / "cr-in-cell.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    result = load(warehouse, catalog, path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (3, 2, 1)
    assert stored(warehouse) == [(2, "1", "Mac\rnote"), (5, "3", "Course")]
    [(line, column, _)] = rejects(warehouse)
    assert (line, column) == (4, "Product Name")
