"""Receiving a file: recognise it, archive it, and decide whether it is new.

The inbox sensor and `ltv import` both call `receive_file`, so a file gets the same answer
whichever way it arrives. Receiving never parses rows; that is the raw asset's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ltv_core.archive import ArchiveError, archive_file, partition_key_of, read_arrivals
from ltv_core.disk_full import disk_full
from ltv_core.file_results import FileResult, read_result, write_result
from ltv_core.formats.csv_file import CsvFileError, inspect_file, sha256_of
from ltv_core.formats.detect import FormatMismatch, mapping_for
from ltv_core.formats.profiles import FormatCatalog, FormatConfigError, FormatProfile
from ltv_core.partition_keys import parse_file_partition_key
from ltv_core.quarantine import parse_failure
from ltv_core.settings import Settings

Outcome = Literal["new", "duplicate", "failed"]


@dataclass(frozen=True)
class Reception:
    file_name: str
    account: str
    outcome: Outcome
    sha256: str | None
    profile: FormatProfile | None = None
    error: str | None = None
    # The content's file partition key for the account, once archived.
    partition_key: str | None = None


def receive_file(
    path: Path,
    *,
    file_name: str,
    account: str,
    format_name: str | None,
    catalog: FormatCatalog,
    archive_dir: Path,
    results_dir: Path,
    already_loaded: Callable[[FormatProfile, str], bool],
) -> Reception:
    """Archive a new file, or record why it is a duplicate or cannot be used.

    `already_loaded(profile, partition_key)` says whether that content was ingested before for
    this account; it is asked of Dagster's own partition records, never of the warehouse, so
    receiving works while a run holds the warehouse. It is asked last, after the copy into the
    archive (a no-op for content already there), so that a caller may still be opening Dagster's
    instance while the file is hashed and copied.
    """
    try:
        facts = inspect_file(path)
        profile = mapping_for(catalog, format_name, facts.header).profile
    except (CsvFileError, FormatMismatch, FormatConfigError, OSError) as exc:
        sha256 = _safe_hash(path)
        error = str(exc)
        write_result(
            results_dir,
            FileResult.failed(file_name, error, account=account, format=format_name, sha256=sha256),
        )
        return Reception(file_name, account, "failed", sha256, None, error)
    try:
        archive_file(
            archive_dir,
            path,
            facts.sha256,
            account=account,
            format_name=profile.name,
            file_name=file_name,
        )
    except (ArchiveError, OSError) as exc:
        full = disk_full(exc, archive_dir)
        if full is not None:
            # The disk's fault, not the file's: the caller says so once, and the file is
            # neither recorded as failed nor quarantined, so it is received again once there
            # is room.
            raise full from exc
        error = str(exc)
        write_result(
            results_dir,
            FileResult.failed(
                file_name, error, account=account, format=profile.name, sha256=facts.sha256
            ),
        )
        return Reception(file_name, account, "failed", facts.sha256, profile, error)
    key = partition_key_of(archive_dir, facts.sha256, account)
    if already_loaded(profile, key):
        previous = read_result(results_dir, facts.sha256)
        write_result(
            results_dir,
            FileResult(
                file=file_name,
                format=profile.name,
                status="duplicate",
                rows=previous.rows if previous else 0,
                rejected=previous.rejected if previous else 0,
                error=None,
                account=account,
                sha256=facts.sha256,
                first_rejects=previous.first_rejects if previous else [],
            ),
        )
        return Reception(file_name, account, "duplicate", facts.sha256, profile, partition_key=key)
    return Reception(file_name, account, "new", facts.sha256, profile, partition_key=key)


def _safe_hash(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except OSError:
        return None


def loaded_according_to_home(
    settings: Settings, sha256: str
) -> Callable[[FormatProfile, str], bool]:
    """The `already_loaded` question of `receive_file`, for a process without Dagster (the
    pages); the sensor and `ltv import` ask Dagster's partition records instead.

    The pipeline's result for the content answers when it says loaded, for that account and
    format. But there is one result per content, not per account and format: another account's
    load of the same bytes, or a failed try in another format, rewrites it, and a user may delete
    it. So an arrival of the content for that account and format already in the archive answers
    too, unless its rows failed to parse: the pipeline loaded it (or is loading it; its result
    will say so). Call it before the file is archived, so its own arrival does not count."""
    earlier = read_arrivals(settings.archive_dir, sha256)

    def check(profile: FormatProfile, partition_key: str) -> bool:
        account = parse_file_partition_key(partition_key).account
        result = read_result(settings.results_dir, sha256)
        if (
            result is not None
            and result.status in ("loaded", "duplicate")
            and result.account == account
            and result.format == profile.name
        ):
            return True
        received = any(a.account == account and a.format == profile.name for a in earlier)
        return received and parse_failure(settings.parse_failures_dir, partition_key) is None

    return check
