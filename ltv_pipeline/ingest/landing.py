"""Land one archived file in its loading table, its content hash checked on the way.

The common file (UTF-8, no NUL, quotes that pair up, every record within the limit) is read by
DuckDB straight away, while a thread makes the full pass over the file that gives the hash, the
line count and what decides how it can be read. Only when that pass or DuckDB finds a problem is
the file read again: by DuckDB as Latin-1 when that is all, else record by record
(`record_landing`).
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ltv_core.formats.csv_file import (
    ContentScan,
    CsvFacts,
    CsvFileError,
    inspect_head,
    scan_content,
    sha256_of,
    with_content,
)
from ltv_core.formats.csv_records import Record
from ltv_core.formats.detect import FormatMismatch, mapping_for
from ltv_pipeline.ingest.duckdb_landing import land_csv
from ltv_pipeline.ingest.file_to_load import FileToLoad
from ltv_pipeline.ingest.line_numbers import number_lines
from ltv_pipeline.ingest.parse_plan import ParsePlan
from ltv_pipeline.ingest.record_landing import land_by_records

SCAN_NICENESS = 10  # yields to DuckDB's threads without starving under other load


@dataclass(frozen=True)
class Landed:
    """A file landed in its loading table, and how its records map to lines."""

    facts: CsvFacts
    plan: ParsePlan
    records: int  # in the table
    first_line: int | None  # the first record's line when rowid gives lines; else None
    unreadable: list[Record]  # records that could not be landed, each a reject


def land_file(conn: duckdb.DuckDBPyConnection, file: FileToLoad, table: str) -> Landed:
    """The file landed in `table`, with its content hash checked against the one it was archived
    by, and its records numbered by line.

    A changed archive copy is reported as changed, also when it no longer reads as CSV or no
    longer fits its format.
    """
    path, file_hash, max_record_bytes = file.path, file.file_hash, file.max_record_bytes
    try:
        head = inspect_head(path)
    except CsvFileError:
        _check_hash(sha256_of(path), path, file_hash)
        raise
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(_scan_behind, path)
        try:
            mapping = mapping_for(file.catalog, file.profile.name, head.header)
            plan = ParsePlan(mapping, tuple(head.header), file.catalog, file.date_order)
            complaint = "UTF-16" if head.encoding == "utf-16" else None
            if complaint is None:
                complaint = land_csv(conn, plan, head, table, max_record_bytes)
        except (CsvFileError, FormatMismatch):
            _check_hash(scanning.result().sha256, path, file_hash)
            raise
        facts = with_content(head, scanning.result())
    _check_hash(facts.sha256, path, file_hash)
    if not facts.needs_record_reading:
        if facts.encoding != head.encoding:  # the first 64 KiB looked like UTF-8; the rest is not
            complaint = land_csv(conn, plan, facts, table, max_record_bytes)
        if complaint is None:
            numbered = number_lines(conn, facts, table, max_record_bytes)
            if numbered is not None:
                return Landed(facts, plan, *numbered, unreadable=[])
    records, unreadable = land_by_records(conn, facts, plan, table, max_record_bytes)
    return Landed(facts, plan, records, None, unreadable)


def _scan_behind(path: Path) -> ContentScan:
    """`scan_content` at a lower CPU priority than DuckDB's threads.

    DuckDB keeps both cores busy while it parses, and one of them idle while it compresses the
    last row groups: a scan that yields lands in that idle time rather than slowing the parse
    (measured: 2.47 s for the landing with the scan beside it, against 2.60 s at equal priority
    and 2.38 s without it). Linux gives a thread its own priority; elsewhere it stays as it is.
    """
    if sys.platform == "linux":
        with suppress(OSError):  # a sandbox that refuses it only loses the overlap
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SCAN_NICENESS)
    return scan_content(path)


def _check_hash(sha256: str, path: Path, file_hash: str) -> None:
    if sha256 != file_hash:
        raise CsvFileError(
            f"the archived copy {path} no longer matches its content hash {file_hash}; "
            "it was changed on disk after import"
        ) from None
