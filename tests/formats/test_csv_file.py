"""What a file is before parsing: identity, encoding, header, and refusals of non-CSV input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ltv_pipeline.formats.csv_file import CsvFileError, inspect_file, record_start_lines
from tests.support import ORDERS_SAMPLE, write_csv


def test_the_hash_is_the_sha256_of_the_bytes() -> None:
    facts = inspect_file(ORDERS_SAMPLE)
    assert facts.sha256 == hashlib.sha256(ORDERS_SAMPLE.read_bytes()).hexdigest()
    assert facts.header[0] == "Order ID"  # the byte-order mark is not part of the name
    assert facts.encoding == "utf-8"


def test_empty_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(CsvFileError, match="empty"):
        inspect_file(path)


def test_blank_only_files_have_no_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "blank.csv", "\n\n  \n")
    with pytest.raises(CsvFileError, match="no header"):
        inspect_file(path)


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (b"PK\x03\x04rest-of-zip", "Excel"),
        (b"%PDF-1.7 ...", "PDF"),
        (b"Order ID,Price\n\x00\x01\x02", "binary"),
    ],
)
def test_binary_files_are_refused_with_what_they_look_like(
    tmp_path: Path, payload: bytes, what: str
) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(payload)
    with pytest.raises(CsvFileError, match=what):
        inspect_file(path)


def test_latin1_files_are_read_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("Order ID,Product Name\n1,Caf\xe9 Course\n".encode("latin-1"))
    facts = inspect_file(path)
    assert facts.encoding == "latin-1"


def test_simple_files_number_lines_by_position(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "plain.csv", "a,b\n1,2\n3,4\n\n\n", crlf=True)
    facts = inspect_file(path)
    assert facts.simple_line_numbers(records=2)


def test_quoted_newlines_and_blank_lines_get_exact_line_numbers(tmp_path: Path) -> None:
    text = 'a,b\n\n1,"two\nlines"\n3,4\n\n5,6\n'
    path = write_csv(tmp_path / "messy.csv", text, crlf=True)
    facts = inspect_file(path)
    assert not facts.simple_line_numbers(records=3)
    assert record_start_lines(facts) == [3, 5, 7]
