"""The content-addressed archive: the bytes as they arrived, and who sent them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ltv_pipeline.formats.csv_file import sha256_of
from ltv_pipeline.ingest.archive import ArchiveError, archive_file, copy_bytes, read_arrivals


def test_the_archive_keeps_the_exact_bytes_once_and_every_arrival(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_bytes(b"\xef\xbb\xbfOrder ID,Price\r\n1,$5.00\r\n" * 50_000)
    sha = sha256_of(source)
    archive = tmp_path / "archive"
    first = archive_file(
        archive, source, sha, account="default", format_name="samcart-orders", file_name="a.csv"
    )
    again = archive_file(
        archive, source, sha, account="store-b", format_name="samcart-orders", file_name="b.csv"
    )
    assert first == again and sha256_of(first) == sha
    assert first.read_bytes() == source.read_bytes()
    assert [(a.account, a.file_name) for a in read_arrivals(archive, sha)] == [
        ("default", "a.csv"),
        ("store-b", "b.csv"),
    ]
    assert sorted(p.suffix for p in archive.iterdir()) == [".csv", ".json"]  # no temp files left


def test_copying_into_something_without_a_file_descriptor_falls_back(tmp_path: Path) -> None:
    source = tmp_path / "o.csv"
    source.write_bytes(b"Order ID\n1\n")
    out = io.BytesIO()
    copy_bytes(source, out)
    assert out.getvalue() == b"Order ID\n1\n"


def test_a_file_that_changed_since_it_was_hashed_is_never_archived(tmp_path: Path) -> None:
    source = tmp_path / "o.csv"
    source.write_bytes(b"Order ID\n1\n")
    stale_hash = sha256_of(source)
    source.write_bytes(b"Order ID\n1\n2\n")  # rewritten between hashing and copying
    archive = tmp_path / "archive"
    with pytest.raises(ArchiveError, match="changed while it was being copied"):
        archive_file(
            archive, source, stale_hash, account="default", format_name="x", file_name="o.csv"
        )
    assert list(archive.iterdir()) == []  # no copy under a wrong name, no temp file left
