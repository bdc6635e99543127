"""Property: every line of any CSV file is accounted for exactly once (issue 12).

Hypothesis writes Orders files out of damaged pieces (quoted line breaks, quotes never closed or
closed too early, blank lines, line ends of CR LF, LF or CR alone, NUL bytes, oversized records,
Latin-1 and UTF-8 bytes) and imports them through the real loader into a real DuckDB file. A
reference reader written here, independent of both DuckDB and Python's csv module, says where
each record starts and ends and whether its quotes close; the load must give each of those
records exactly once, at its line: landed (loaded, rejected with reasons, or blank) with the
same line span, or a reject saying why it could not be read. Nothing may fail without saying
why. A line ends at CR LF, LF or CR alone, as a text editor shows it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from ltv_core.formats.csv_file import inspect_file
from ltv_core.formats.profiles import load_catalog
from ltv_pipeline.ingest.load_file import load_file
from ltv_pipeline.warehouse.schema_version import ensure_schema

HEADER = b"Order ID,Order Date,Price,Customer Email,Product Name"
COLUMNS = ["order_id", "order_date", "price", "customer_email", "product_name"]
LIMIT = 1024  # the record size limit in these files, so that an oversized record stays small
CATALOG = load_catalog()
LINE_END = re.compile("\r\n|\r|\n")

plain = st.sampled_from(
    [b"1", b"01/02/2024", b"$5.00", b"a@b.c", b"Course", b"", b"  ", b"caf\xe9", b"caf\xc3\xa9"]
)
quoted_text = st.lists(
    st.sampled_from([b"x", b" ", b",", b'""', b"\n", b"\r\n", b"\r", b"\xe9", b"line"]), max_size=6
)
field = st.one_of(
    plain,
    plain,
    quoted_text.map(lambda parts: b'"' + b"".join(parts) + b'"'),
    quoted_text.map(lambda parts: b'"' + b"".join(parts)),  # never closed
    st.just(b'"ab"c'),  # text after a closing quote
    st.just(b'ab"c'),  # a quote inside a cell that is not quoted
    st.just(b"x\x00y"),
    st.just(b"z" * (LIMIT + 10)),
)
record = st.lists(field, min_size=1, max_size=7).map(b",".join)
line = st.one_of(record, record, record, st.just(b""), st.just(b"   "))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    end = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    lines = draw(st.lists(line, max_size=12))
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    body = end.join([HEADER, *lines])
    return bom + body + (end if draw(st.booleans()) else b"")


@dataclass(frozen=True)
class Expected:
    start: int
    end: int
    kind: str  # "record", "unclosed quote", "oversized", "nul"


def reference_records(data: bytes) -> list[Expected]:
    """The records after the header line as a strict RFC 4180 reader sees them, by line.

    A quote opens a quoted cell only at a cell's start; inside it, a doubled quote is a quote
    and a single one closes it. Text after a closing quote ends the record with its line (one
    such line is read leniently; over several lines it is damage); so is a quoted cell still
    open at the end of the file (damage unless it stays on one line). Empty lines are no record.
    """
    try:
        text, encoding = data.decode("utf-8").removeprefix("\ufeff"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    after_header = LINE_END.split(text, maxsplit=1)[1:]
    text = after_header[0] if after_header else ""
    records: list[Expected] = []
    pos, line, n = 0, 2, len(text)
    while pos < n:
        if blank := LINE_END.match(text, pos):
            pos = blank.end()
            line += 1
            continue
        start, begin, state, kind = line, pos, "cell start", "record"
        while pos < n:
            char = text[pos]
            if state == "quoted":
                state = "closing quote" if char == '"' else "quoted"
            elif state == "closing quote" and char == '"':
                state = "quoted"
            elif state == "closing quote" and char not in ",\r\n":
                line_end = LINE_END.search(text, pos)
                pos = n if line_end is None else line_end.start()
                kind = "unclosed quote" if line > start else "record"
                break
            elif char in "\r\n":
                break
            elif char == '"' and state == "cell start":
                state = "quoted"
            else:
                state = "cell start" if char == "," else "cell"
            if char == "\r" or (char == "\n" and text[pos - 1] != "\r"):
                line += 1
            pos += 1
        if pos >= n and state == "quoted":
            end = start + line_ends(text[begin:].rstrip())
            kind = "unclosed quote" if end > start else "record"
        else:
            end = line
        size = len(text[begin:pos].removesuffix("\r").encode(encoding))
        if kind == "record" and size > LIMIT:
            kind = "oversized"
        elif kind == "record" and "\x00" in text[begin:pos]:
            kind = "nul"
        records.append(Expected(start, end, kind))
        if pos < n:  # the record's line end
            pos = LINE_END.match(text, pos).end()
            line += 1
    return records


def line_ends(text: str) -> int:
    return len(LINE_END.findall(text))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """One warehouse for all examples: each file is its own table, read back by its hash."""
    conn = duckdb.connect(str(tmp_path_factory.mktemp("properties") / "warehouse.duckdb"))
    ensure_schema(conn)
    yield conn
    conn.close()


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=csv_files())
def test_every_line_is_one_loaded_or_rejected_record(
    warehouse: duckdb.DuckDBPyConnection, data: bytes
) -> None:
    note(f"file bytes: {data!r}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        path.write_bytes(data)
        file_hash = inspect_file(path).sha256
        result = load_file(
            warehouse,
            catalog=CATALOG,
            profile=CATALOG.profile("samcart-orders"),
            account="default",
            file_hash=file_hash,
            path=path,
            file_name=path.name,
            partition_key=path.name,
            date_order="MDY",
            max_record_bytes=LIMIT,
        )
    landed = warehouse.execute(
        f"SELECT line_number, accepted, overflow_cells, {', '.join(COLUMNS)} "
        "FROM landed_samcart_orders WHERE file_hash = ? ORDER BY line_number",
        [file_hash],
    ).fetchall()
    rejects: dict[int, list[str]] = {}
    for line_number, reason in warehouse.execute(
        "SELECT line_number, reason FROM rejects WHERE file_hash = ?", [file_hash]
    ).fetchall():
        rejects.setdefault(line_number, []).append(reason)

    expected = reference_records(data)
    assert result.rows_accepted + result.rows_rejected == result.rows_read
    landed_by_line = {row[0]: row for row in landed}
    assert len(landed_by_line) == len(landed), "two landed records on one line"
    unreadable = {e.start: e for e in expected if e.kind != "record"}
    readable = [e for e in expected if e.kind == "record"]
    assert sorted(landed_by_line) == [e.start for e in readable]
    for e in unreadable.values():
        reasons = " ".join(rejects.get(e.start, []))
        if e.kind == "unclosed quote":
            assert f"is not closed before line {e.end}" in reasons, (e, reasons)
        elif e.kind == "oversized":
            assert f"over the limit of {LIMIT:,} bytes" in reasons, (e, reasons)
        else:
            assert "NUL byte" in reasons, (e, reasons)
    for e in readable:
        line_number, accepted, overflow, *cells = landed_by_line[e.start]
        blank = all(cell is None or not cell.strip() for cell in [*cells, overflow])
        assert accepted or blank or e.start in rejects, e
        if accepted:  # all its cells are here: their line breaks span its lines exactly
            breaks = sum(line_ends(cell or "") for cell in cells)
            # (but a quote left open on the last line keeps the file's trailing line ends)
            if e is readable[-1] and e.start + breaks != e.end:
                breaks = sum(line_ends((cell or "").rstrip()) for cell in cells)
            assert e.start + breaks == e.end, (e, cells)
        assert all("\x00" not in (cell or "") for cell in cells)
