"""The content-addressed archive: the bytes as they arrived, and who sent them."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ltv_core.archive import (
    ArchiveError,
    archive_file,
    archived_path,
    copy_bytes,
    read_arrivals,
)
from ltv_core.formats.csv_file import sha256_of
from ltv_core.settings import Settings


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


# A writer in its own process, stopped while copying into the archive, as a kill -9 would find it.
COPYING = """
import sys, time
from pathlib import Path
from ltv_core.atomic_files import write_atomically

def write(out):
    out.write(b"x" * 1_000_000)
    out.flush()
    print("copying", flush=True)
    time.sleep(600)

write_atomically(Path(sys.argv[1]), write)
"""


def _copying(target: Path) -> subprocess.Popen:
    writer = subprocess.Popen(
        [sys.executable, "-c", COPYING, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "copying"
    return writer


def test_a_killed_copy_leaves_nothing_after_the_next_start(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    settings.ensure_layout()
    killed = _copying(archived_path(settings.archive_dir, "a" * 64))
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    alive = _copying(archived_path(settings.archive_dir, "b" * 64))
    try:
        leftovers = sorted(settings.archive_dir.iterdir())
        assert len(leftovers) == 2 and all(p.name.startswith(".") for p in leftovers)
        past = time.time() - 3600
        for path in leftovers:
            os.utime(path, (past, past))
        settings.ensure_layout()  # what every start (and every inbox tick) does
        [kept] = settings.archive_dir.iterdir()
        assert kept.name.startswith(f".{'b' * 64}.csv"), "a copy still being written is kept"
    finally:
        alive.kill()
        alive.wait()
