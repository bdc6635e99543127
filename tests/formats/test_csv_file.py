"""What a file is before parsing: identity, encoding, header, and refusals of non-CSV input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ltv_core.formats.csv_file import CHUNK, CsvFileError, inspect_file
from ltv_core.formats.csv_records import read_records
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
        (b"\x00\x00\x00\x18ftypmp42 binary", "binary"),
        (b"O\x00r\x00d\x00e\x00r\x00,\x00", "UTF-16 text needs its byte-order mark"),
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
    assert [record.start for record in read_records(facts, 1024)] == [3, 5, 7]


def test_a_cr_alone_ends_a_line_as_an_editor_shows_it(tmp_path: Path) -> None:
    mac = tmp_path / "mac.csv"
    mac.write_bytes(b"a,b\r1,2\r3,4\r\r")
    assert inspect_file(mac).simple_line_numbers(records=2)
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"a,b\r\n\r1,2\n\r\n3,4\r")
    facts = inspect_file(mixed)
    assert [record.start for record in read_records(facts, 1024)] == [3, 5]
    assert facts.lone_cr_among_crlf and facts.needs_record_reading


def test_a_cr_lf_cut_by_the_scan_s_chunks_is_one_line_end(tmp_path: Path) -> None:
    head = b"Order ID,Product Name\r\n1,"
    path = tmp_path / "cut.csv"
    path.write_bytes(head + b"x" * (CHUNK - len(head) - 1) + b"\r\n" + b"2,y\r\n" * 10)
    assert path.read_bytes()[CHUNK - 1 : CHUNK + 1] == b"\r\n"
    facts = inspect_file(path)
    assert facts.simple_line_numbers(records=11)
    assert not facts.needs_record_reading


def test_the_whole_file_decides_the_encoding(tmp_path: Path) -> None:
    """The first 64 KiB are plain ASCII; one Latin-1 byte far beyond makes the file Latin-1."""
    path = tmp_path / "late.csv"
    path.write_bytes(b"Order ID,Product Name\n" + b"1,Course\n" * 20_000 + b"2,Caf\xe9\n")
    assert inspect_file(path).encoding == "latin-1"


def test_a_utf8_character_cut_by_the_scan_s_chunks_is_still_utf8(tmp_path: Path) -> None:
    head = b"Order ID,Product Name\n1,"
    filler = b"x" * (CHUNK - len(head) - 1)
    path = tmp_path / "cut.csv"
    path.write_bytes(head + filler + "é".encode() + b"\n" + b"2,plain ascii after\n" * 10)
    assert path.read_bytes()[CHUNK - 1 : CHUNK + 1] == "é".encode()
    facts = inspect_file(path)
    assert facts.encoding == "utf-8"
    assert not facts.needs_record_reading


def test_the_scan_finds_what_needs_record_reading(tmp_path: Path) -> None:
    nul = write_csv(tmp_path / "nul.csv", "a,b\n" + "1,2\n" * 30_000 + "3,x\x00y\n")
    unpaired = write_csv(tmp_path / "quote.csv", 'a,b\n1,"open\n2,3\n')
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("a,b\n1,2\n".encode("utf-16"))
    assert inspect_file(nul).has_nul and inspect_file(nul).needs_record_reading
    assert not inspect_file(unpaired).quotes_paired
    assert inspect_file(utf16).encoding == "utf-16" and inspect_file(utf16).header == ["a", "b"]
    assert not inspect_file(ORDERS_SAMPLE).needs_record_reading


def test_a_last_line_of_spaces_is_a_record_line(tmp_path: Path) -> None:
    """DuckDB reads it as a (blank) record: with a blank line before it, the counts would
    otherwise agree while every record's line is off by one."""
    path = write_csv(tmp_path / "spaces.csv", 'a,b\n\n"x"y,1\n   ')
    assert not inspect_file(path).simple_line_numbers(records=2)
