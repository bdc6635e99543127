"""The content-addressed archive of every file ever ingested, whichever way it arrived.

`archive/<sha256>.csv` holds the bytes; `archive/<sha256>.json` records who sent it under which
name, for which account and format. The pair is all a backfill needs to re-parse history.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ltv_core.atomic_files import write_atomically
from ltv_core.formats.csv_file import sha256_of
from ltv_core.partition_keys import (
    SHORT_HASH,
    file_partition_key,
    old_file_partition_key,
    parse_file_partition_key,
)


@dataclass(frozen=True)
class Arrival:
    account: str
    format: str
    file_name: str
    received_at: str
    # The content's file partition key for the account, made at its first arrival; None in a
    # record from before keys carried names, whose key is `<account>_<sha256>`.
    partition_key: str | None = None


class ArchiveError(Exception):
    """The file could not be archived as the bytes it was identified by."""


def copy_bytes(source: Path, out: BinaryIO) -> None:
    """Copy a file's bytes into `out` inside the kernel (sendfile): about four times faster than a
    read/write loop on a 300 MB export here. Falls back to the loop where sendfile cannot copy
    between these files (or does not exist). The caller checks the result: see `archive_file`."""
    sendfile = getattr(os, "sendfile", None)
    with source.open("rb") as src:
        size = os.fstat(src.fileno()).st_size
        offset = 0
        if sendfile is not None:
            try:
                while offset < size:
                    sent = sendfile(out.fileno(), src.fileno(), offset, size - offset)
                    if sent == 0:
                        return  # the file shrank while being copied: the hash check says so
                    offset += sent
                return
            except OSError:
                if offset:
                    raise
        shutil.copyfileobj(src, out, 4 * 1024 * 1024)


def _holds(sha256: str) -> Callable[[Path], None]:
    """A check that a copy holds exactly the content the file was identified by."""

    def check(copy: Path) -> None:
        if sha256_of(copy) != sha256:
            raise ArchiveError(
                "the file changed while it was being copied into the archive; nothing was "
                "stored. Import it again once it is complete."
            )

    return check


def archived_path(archive_dir: Path, sha256: str) -> Path:
    return archive_dir / f"{sha256}.csv"


def _manifest_path(archive_dir: Path, sha256: str) -> Path:
    return archive_dir / f"{sha256}.json"


def archive_file(
    archive_dir: Path,
    source: Path,
    sha256: str,
    *,
    account: str,
    format_name: str,
    file_name: str,
) -> Path:
    """Copy `source` into the archive (once per content) and record this arrival."""
    target = archived_path(archive_dir, sha256)
    if not target.exists():
        # Verified before it takes its name: the archive never holds other bytes under a hash.
        write_atomically(target, lambda out: copy_bytes(source, out), check=_holds(sha256))
    arrivals = read_arrivals(archive_dir, sha256)
    if not any(a.account == account and a.format == format_name for a in arrivals):
        received_at = datetime.now(UTC).isoformat(timespec="seconds")
        key = _key_for_arrival(archive_dir, sha256, arrivals, account, file_name, received_at)
        arrivals.append(Arrival(account, format_name, file_name, received_at, key))
        payload = json.dumps(
            {"sha256": sha256, "arrivals": [asdict(a) for a in arrivals]}, indent=2
        )
        write_atomically(
            _manifest_path(archive_dir, sha256), lambda out: out.write(payload.encode())
        )
    return target


def _key_for_arrival(
    archive_dir: Path,
    sha256: str,
    arrivals: list[Arrival],
    account: str,
    file_name: str,
    received_at: str,
) -> str | None:
    """The account's key for the content: the one an earlier arrival of it (in another format)
    has, else a new one. Its hash part is short unless another content of the account already
    starts with the same digits, so no two contents of an account ever share a key."""
    for earlier in arrivals:
        if earlier.account == account:
            return earlier.partition_key
    prefix = sha256[:SHORT_HASH]
    taken = any(
        arrival.account == account
        for manifest in archive_dir.glob(f"{prefix}*.json")
        if manifest.stem != sha256
        for arrival in read_arrivals(archive_dir, manifest.stem)
    )
    return file_partition_key(account, sha256, file_name, received_at[:10], full_hash=taken)


def partition_key_of(archive_dir: Path, sha256: str, account: str) -> str:
    """The file partition key of an archived content for an account."""
    for arrival in read_arrivals(archive_dir, sha256):
        if arrival.account == account:
            return arrival_partition_key(sha256, arrival)
    raise ArchiveError(f"the archive holds no {sha256}.csv received for account {account!r}")


def arrival_partition_key(sha256: str, arrival: Arrival) -> str:
    return arrival.partition_key or old_file_partition_key(arrival.account, sha256)


def archived_file_of(archive_dir: Path, partition_key: str) -> tuple[str, str]:
    """(account, sha256) of the archived content a file partition key stands for."""
    parsed = parse_file_partition_key(partition_key)
    if parsed.sha256 is not None:
        return parsed.account, parsed.sha256
    for manifest in sorted(archive_dir.glob(f"{parsed.hash}*.json")):
        for arrival in read_arrivals(archive_dir, manifest.stem):
            if arrival.partition_key == partition_key:
                return parsed.account, manifest.stem
    raise ArchiveError(
        f"no archived file has the partition key {partition_key!r}: the archive in "
        f"{archive_dir} holds no record of a content starting {parsed.hash} with that key"
    )


def read_arrivals(archive_dir: Path, sha256: str) -> list[Arrival]:
    path = _manifest_path(archive_dir, sha256)
    if not path.exists():
        return []
    return [Arrival(**item) for item in json.loads(path.read_text())["arrivals"]]


def all_arrivals(archive_dir: Path) -> list[tuple[str, Arrival]]:
    """(sha256, arrival) for everything ever archived: what the pipeline must have parsed."""
    found = []
    for manifest in sorted(archive_dir.glob("*.json")):
        sha256 = manifest.stem
        for arrival in read_arrivals(archive_dir, sha256):
            found.append((sha256, arrival))
    return found


def original_name(archive_dir: Path, sha256: str, account: str) -> str:
    for arrival in read_arrivals(archive_dir, sha256):
        if arrival.account == account:
            return arrival.file_name
    return f"{sha256}.csv"
