"""Land, parse, check and store one archived export file: the body of every raw file asset.

In one pass over the file, every record lands in the file's own landed table: its cells as text
exactly as they arrived, and beside them the typed values SQL built from the format profile
parses out of those same cells, with whether the record is accepted (the raw asset is the view
of the accepted ones; lib/tables.py). One transaction then puts that table in place of the
file's previous one, and the pandera contract validates the rows as stored; any it refuses move
to `rejects`. Each reject says which line, which column, what value and what was expected.
Running it twice gives the same tables, which is what makes a backfill from the UI safe.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ltv_pipeline.contracts.raw_files import contract_columns, contract_failures
from ltv_pipeline.formats.csv_file import (
    ContentScan,
    CsvFacts,
    CsvFileError,
    CsvHead,
    inspect_head,
    scan_content,
    sha256_of,
    with_content,
)
from ltv_pipeline.formats.csv_records import Record, read_records, write_clean_copy
from ltv_pipeline.formats.detect import FormatMismatch, HeaderMapping, mapping_for
from ltv_pipeline.formats.profiles import ColumnSpec, FormatCatalog, FormatProfile
from ltv_pipeline.lib import sql_parsing as sp
from ltv_pipeline.lib.transaction import one_transaction
from ltv_pipeline.settings import DEFAULT_MAX_RECORD_BYTES
from ltv_pipeline.warehouse.landed import (
    bare_name,
    file_table,
    landed_table,
    landed_view_sql,
    line_number_sql,
    stored_when_changed,
    typed_columns,
    typed_name,
)
from ltv_pipeline.warehouse.views import write_view

MAX_REASONS_REPORTED = 5
OVERFLOW_COLUMNS = 4
SCAN_NICENESS = 10  # yields to DuckDB's threads without starving under other load
# A clean copy's records are within the limit in the file's own bytes; rewritten as UTF-8 (and
# re-quoted) they may grow, which must not fail them in DuckDB.
CLEAN_COPY_GROWTH = 4


@dataclass
class FileLoad:
    """What happened to one file; the numbers the results JSON and the metadata report."""

    account: str
    file_hash: str
    format: str
    file_name: str
    encoding: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    first_reasons: list[str] = field(default_factory=list)
    # What the pandera contract still finds among the stored rows: empty when they hold.
    contract_failures: pl.DataFrame = field(default_factory=pl.DataFrame)


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """One value, with the result fully consumed (DuckDB 2 refuses new work before that)."""
    return conn.execute(sql, params or []).fetchall()[0][0]


def _one_file(account: str, file_hash: str) -> str:
    """The condition selecting one file's rows, in the landed or raw view or in rejects."""
    return f"account = {sp.quote(account)} AND file_hash = {sp.quote(file_hash)}"


@dataclass(frozen=True)
class Landed:
    """A file landed in its loading table, and how its records map to lines."""

    facts: CsvFacts
    mapping: HeaderMapping
    records: int  # in the table
    first_line: int | None  # the first record's line when rowid gives lines; else None
    unreadable: list[Record]  # records that could not be landed, each a reject


def _csv_source(head: CsvHead, parallel: bool, max_line_size: int) -> str:
    """read_csv over the file with a fixed dialect (no sniffing: small messy files defeat it).

    A few spare columns catch rows with more cells than the header, so that they can be
    rejected rather than silently truncated.
    """
    width = len(head.header) + OVERFLOW_COLUMNS
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    return (
        f"read_csv({sp.quote(str(head.path))}, header = true, auto_detect = false, "
        f"columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"', "
        f"null_padding = true, strict_mode = false, skip = {head.header_line - 1}, "
        f"encoding = {sp.quote(head.encoding)}, max_line_size = {max_line_size}, "
        f"parallel = {str(parallel).lower()})"
    )


def _records_sql(mapping: HeaderMapping, head: CsvHead, source: str) -> str:
    """Every record of the file by canonical name, with its unknown columns and spare cells.

    The one shape that is both landed as text and parsed, so the two can never disagree. The
    line number is not known while reading (the table's rowid gives it later), hence NULL.
    """
    profile = mapping.profile
    cells = [
        f"c{mapping.positions[c.name]}" if c.name in mapping.positions else "NULL"
        for c in profile.columns
    ]
    named = ", ".join(
        f"{cell} AS {sp.ident(c.name)}" for cell, c in zip(cells, profile.columns, strict=True)
    )
    if mapping.extra:
        extra_cells = ", ".join(f"c{pos}" for pos in mapping.extra)
        pairs = ", ".join(f"{sp.quote(name)}, c{pos}" for pos, name in mapping.extra.items())
        extra = f"CASE WHEN coalesce({extra_cells}) IS NOT NULL THEN json_object({pairs}) END"
    else:
        extra = "NULL"
    width = len(head.header)
    spare = ", ".join(f"c{i}" for i in range(width, width + OVERFLOW_COLUMNS))
    return (
        f"SELECT NULL AS line_number, {named}, {extra} AS extra_columns, "
        f"NULLIF(concat_ws(',', {spare}), '') AS overflow_cells FROM {source}"
    )


def _stored_records_sql(mapping: HeaderMapping, table: str, line_sql: str) -> str:
    """The records of a file's landed table that did not become rows, in `_records_sql`'s shape
    (a column the file does not have is NULL), to be parsed again for the reasons."""
    named = ", ".join(
        sp.ident(c.name) if c.name in mapping.positions else f"NULL AS {sp.ident(c.name)}"
        for c in mapping.profile.columns
    )
    extra = "extra_columns" if mapping.extra else "NULL AS extra_columns"
    return (
        f"SELECT {line_sql} AS line_number, {named}, {extra}, overflow_cells "
        f"FROM {table} WHERE NOT accepted"
    )


def _land(
    conn: duckdb.DuckDBPyConnection,
    head: CsvHead,
    mapping: HeaderMapping,
    catalog: FormatCatalog,
    date_order: str,
    table: str,
    max_line_size: int,
) -> str | None:
    """One pass over the file: every record's cells as text and, beside them, what parsing made
    of them, written in the file's order to `table` (so its rowid is the record's position).
    Returns None when it landed, else the reader's complaint (the file is then read record by
    record instead).

    Order is what DuckDB keeps by default; it is asked for here all the same, because a
    connection of the same database may have turned it off for its rebuilds."""
    conn.execute("SET SESSION preserve_insertion_order = true")
    columns = ", ".join(f"{expr} AS {sp.ident(name)}" for name, expr in _landed_output(mapping))
    parallel = True
    while True:
        records = _records_sql(mapping, head, _csv_source(head, parallel, max_line_size))
        parse_sql, _ = _build_parse_sql(mapping, head, catalog, date_order, records)
        try:
            conn.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {columns} FROM ({parse_sql})")
            return None
        except duckdb.Error as exc:
            if parallel and "parallel=false" in str(exc):
                parallel = False  # quoted newlines with ragged rows need the sequential reader
                continue
            if "CSV" not in str(exc):
                raise  # not the reader's: a full disk, memory, an interrupt
            return str(exc).strip().splitlines()[0]


def _land_checked(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    file_hash: str,
    catalog: FormatCatalog,
    profile: FormatProfile,
    date_order: str,
    table: str,
    max_record_bytes: int,
) -> Landed:
    """The file landed in `table`, with its content hash checked against the one it was archived
    by, and its records numbered by line.

    The common file (UTF-8, no NUL, quotes that pair up, every record within the limit) is
    read by DuckDB straight away, while a thread makes the full pass over the file that gives
    the hash, the line count and what decides how it can be read. Only when that pass or DuckDB
    finds a problem is the file read again: by DuckDB as Latin-1 when that is all, else record
    by record (`_land_by_records`). A changed archive copy is reported as changed, also when it
    no longer reads as CSV or no longer fits its format.
    """
    try:
        head = inspect_head(path)
    except CsvFileError:
        _check_hash(sha256_of(path), path, file_hash)
        raise
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(_scan_behind, path)
        try:
            mapping = mapping_for(catalog, profile.name, head.header)
            complaint = "UTF-16" if head.encoding == "utf-16" else None
            if complaint is None:
                complaint = _land(conn, head, mapping, catalog, date_order, table, max_record_bytes)
        except (CsvFileError, FormatMismatch):
            _check_hash(scanning.result().sha256, path, file_hash)
            raise
        facts = with_content(head, scanning.result())
    _check_hash(facts.sha256, path, file_hash)
    if not facts.needs_record_reading:
        if facts.encoding != head.encoding:  # the first 64 KiB looked like UTF-8; the rest is not
            complaint = _land(conn, facts, mapping, catalog, date_order, table, max_record_bytes)
        if complaint is None:
            numbered = _number_lines(conn, facts, table, max_record_bytes)
            if numbered is not None:
                return Landed(facts, mapping, *numbered, unreadable=[])
    return _land_by_records(conn, facts, mapping, catalog, date_order, table, max_record_bytes)


def _land_by_records(
    conn: duckdb.DuckDBPyConnection,
    facts: CsvFacts,
    mapping: HeaderMapping,
    catalog: FormatCatalog,
    date_order: str,
    table: str,
    max_record_bytes: int,
) -> Landed:
    """The careful path: the file read record by record (`csv_records`), its loadable records
    landed from a clean UTF-8 copy, each at the line it starts on in the file, and the others
    kept as rejects. Slower, and only for files that need it."""
    with tempfile.TemporaryDirectory(prefix="ltv-records-") as folder:
        copy = write_clean_copy(facts, max_record_bytes, Path(folder) / "records.csv")
        clean = CsvHead(
            path=copy.path,
            size=copy.path.stat().st_size,
            encoding="utf-8",
            header=facts.header,
            header_line=1,
        )
        line_size = CLEAN_COPY_GROWTH * max_record_bytes
        complaint = _land(conn, clean, mapping, catalog, date_order, table, line_size)
    if complaint is not None:
        raise CsvFileError(f"the file cannot be read as CSV: {complaint}")
    records = _scalar(conn, f"SELECT count(*) FROM {table}")
    if records != len(copy.starts):
        raise CsvFileError(
            f"the file cannot be read as CSV: {len(copy.starts)} records were written for "
            f"DuckDB and it read {records}"
        )
    _store_line_numbers(conn, table, copy.starts)
    return Landed(facts, mapping, records, None, copy.unreadable)


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


def _number_lines(
    conn: duckdb.DuckDBPyConnection, facts: CsvFacts, table: str, max_record_bytes: int
) -> tuple[int, int | None] | None:
    """(records, the first record's line) when every record is one line, so that a record's line
    follows from its rowid; otherwise the table gets each record's `line_number`, read record by
    record, and the first line is None. None when that reading finds a record DuckDB must not be
    trusted with (a quote that closes lines later, a record over the limit), or other records
    than DuckDB's: the file is then landed record by record."""
    records = _scalar(conn, f"SELECT count(*) FROM {table}")
    if facts.simple_line_numbers(records):
        return records, facts.header_line + 1
    starts = []
    for record in read_records(facts, max_record_bytes):
        if record.unreadable is not None:
            return None
        starts.append(record.start)
    if len(starts) != records:
        return None
    _store_line_numbers(conn, table, starts)
    return records, None


def _store_line_numbers(conn: duckdb.DuckDBPyConnection, table: str, starts: list[int]) -> None:
    """Give the k-th record of `table` (by rowid) the line `starts[k]`."""
    lines = pl.DataFrame(
        {"record": range(len(starts)), "line": starts},
        schema={"record": pl.Int64, "line": pl.Int64},
    )
    conn.register("_lines_frame", lines)
    try:
        conn.execute("CREATE OR REPLACE TEMP TABLE _lines AS SELECT * FROM _lines_frame")
    finally:
        conn.unregister("_lines_frame")
    conn.execute(f"ALTER TABLE {table} ADD COLUMN line_number BIGINT")
    conn.execute(
        f"UPDATE {table} AS f SET line_number = l.line FROM _lines AS l WHERE l.record = f.rowid"
    )


def _check_hash(sha256: str, path: Path, file_hash: str) -> None:
    if sha256 != file_hash:
        raise CsvFileError(
            f"the archived copy {path} no longer matches its content hash {file_hash}; "
            "it was changed on disk after import"
        ) from None


def _typed_sql(column: ColumnSpec, text: str, catalog: FormatCatalog, date_order: str) -> str:
    if column.vocabulary:
        return sp.vocabulary_sql(text, catalog.spellings(column.vocabulary))
    return {
        "text": text,
        "email": sp.email_sql(text),
        "money": sp.money_sql(text),
        "date": sp.timestamp_sql(text, date_order),
        "time": sp.time_sql(text),
        "integer": sp.integer_sql(text),
    }[column.type]


def _shown(mapping: HeaderMapping, header: list[str], name: str) -> str:
    """A column as the user knows it: the file's own header, else SamCart's usual name."""
    position = mapping.positions.get(name)
    if position is not None:
        return header[position]
    return (mapping.profile.column(name).aliases or (name,))[0]


def _expected(column: ColumnSpec, catalog: FormatCatalog, date_order: str) -> str:
    if column.vocabulary:
        return sp.vocabulary_expected(catalog.spellings(column.vocabulary))
    return {
        "email": sp.EMAIL_EXPECTED,
        "money": sp.MONEY_EXPECTED,
        "date": sp.date_expected(date_order),
        "time": sp.TIME_EXPECTED,
        "integer": sp.INTEGER_EXPECTED,
    }.get(column.type, "text")


def _checked(column: ColumnSpec, profile: FormatProfile) -> bool:
    """Columns whose text can make a row fail, and so is kept to quote in a reject."""
    in_group = any(column.name in group for group in profile.required_one_of)
    return column.required or in_group or column.type != "text" or column.vocabulary is not None


def _build_parse_sql(
    mapping: HeaderMapping,
    head: CsvHead,
    catalog: FormatCatalog,
    date_order: str,
    source: str,
) -> tuple[str, str]:
    """A query parsing the records of `source` (their cells, typed values, and flags for a blank
    record and for a problem), and the expression listing a problem row's reasons.

    Reasons are only built for rows that have a problem, when the rejects are written.
    """
    profile = mapping.profile
    header = head.header
    cells = [sp.ident(c.name) for c in profile.columns]
    texts = ["line_number", "extra_columns", "overflow_cells", *cells]
    texts += [
        f"{sp.clean_text_sql(sp.ident(c.name))} AS {sp.ident('t_' + c.name)}"
        for c in profile.columns
    ]
    # COALESCE stops at the first non-NULL value, so the cells that are almost always filled
    # (required ones first) settle nearly every record; the others are cleaned only on demand.
    checked = sorted(
        (c for c in profile.columns if _checked(c, profile)), key=lambda c: not c.required
    )
    others = [c for c in profile.columns if not _checked(c, profile)]
    blank = (
        "coalesce("
        + ", ".join(
            [sp.ident("t_" + c.name) for c in checked]
            + [sp.clean_text_sql(sp.ident(c.name)) for c in others]
            + ["CAST(extra_columns AS VARCHAR)", "overflow_cells"]
        )
        + ") IS NULL"
    )

    typed_select = []
    problems: list[tuple[str, str, str, str]] = []  # (condition, column shown, value, reason)
    one_of = {name: group for group in profile.required_one_of for name in group}
    for column in profile.columns:
        text = sp.ident("t_" + column.name)
        value = sp.ident("v_" + column.name)
        typed = _typed_sql(column, text, catalog, date_order)
        if column.fallback:
            fallback = profile.column(column.fallback)
            fallback_typed = _typed_sql(
                fallback, sp.ident("t_" + fallback.name), catalog, date_order
            )
            typed = f"coalesce({typed}, {fallback_typed})"
        typed_select.append(f"{typed} AS {value}")
        shown = _shown(mapping, header, column.name)
        if column.required:
            problems.append((f"{text} IS NULL", shown, text, "'required value is missing'"))
        if column.type != "text" or column.vocabulary:
            expected = sp.quote("expected " + _expected(column, catalog, date_order))
            problems.append((f"({text} IS NOT NULL AND {value} IS NULL)", shown, text, expected))
        group = one_of.get(column.name)
        if group and group[0] == column.name:
            none_present = " AND ".join(f"{sp.ident('t_' + name)} IS NULL" for name in group)
            names = " or ".join(_shown(mapping, header, name) for name in group)
            problems.append(
                (f"({none_present})", shown, text, sp.quote(f"required value is missing: {names}"))
            )
    problems.append(
        (
            "overflow_cells IS NOT NULL",
            "(row)",
            "overflow_cells",
            sp.quote(f"the row has more cells than the {len(header)} columns of the header"),
        )
    )
    has_problem = " OR ".join(condition for condition, *_ in problems)
    kept_texts = [sp.ident("t_" + c.name) for c in profile.columns if _checked(c, profile)]
    parse_sql = f"""
        WITH texts AS (SELECT {", ".join(texts)} FROM ({source})),
        typed AS (
            SELECT *, {blank} AS is_blank, {", ".join(typed_select)} FROM texts
        )
        SELECT line_number, extra_columns, overflow_cells, {", ".join(cells)},
               {", ".join(kept_texts)},
               {", ".join(sp.ident("v_" + c.name) for c in profile.columns)},
               is_blank, coalesce({has_problem}, false) AS has_problem
        FROM typed
    """
    reasons = ", ".join(
        f"{{'column': {sp.quote(shown)}, 'value': {value}, "
        f"'reason': CASE WHEN {condition} THEN {reason} END}}"
        for condition, shown, value, reason in problems
    )
    return parse_sql, f"list_filter([{reasons}], lambda r: r.reason IS NOT NULL)"


def _has_cells(mapping: HeaderMapping, name: str) -> bool:
    """Whether the file has a cell a raw column is parsed from (itself, its fallback, or for the
    timestamp its date): a column without is NULL in every record, and is not stored."""
    profile = mapping.profile
    if profile.timestamp is not None and name == profile.timestamp.name:
        return profile.timestamp.date in mapping.positions
    fallback = profile.column(name).fallback
    return name in mapping.positions or (fallback is not None and fallback in mapping.positions)


def _landed_output(mapping: HeaderMapping) -> list[tuple[str, str]]:
    """(column, expression over the parse query) of a file's landed table: the cells the file
    has, its unknown columns if any, spare cells, the typed values, and whether it is a row."""
    profile = mapping.profile
    outputs = [(c.name, sp.ident(c.name)) for c in profile.columns if c.name in mapping.positions]
    if mapping.extra:
        outputs.append(("extra_columns", "extra_columns"))
    outputs.append(("overflow_cells", "overflow_cells"))
    for name, sql_type in typed_columns(profile):
        if not _has_cells(mapping, name):
            continue
        if profile.timestamp is not None and name == profile.timestamp.name:
            date = sp.ident("v_" + profile.timestamp.date)
            value = date
            if profile.timestamp.time:
                time = sp.ident("v_" + profile.timestamp.time)
                value = (
                    f"CASE WHEN {time} IS NOT NULL THEN CAST({date} AS DATE) + {time} "
                    f"ELSE {date} END"
                )
        elif stored_when_changed(profile.column(name)):
            # NULL where the value is the cleaned cell itself (lib/tables.stored_when_changed).
            value = f"NULLIF({sp.ident('v_' + name)}, {sp.ident('t_' + name)})"
        else:
            value = f"CAST({sp.ident('v_' + name)} AS {sql_type})"
        outputs.append((typed_name(name), value))
    outputs.append(("accepted", "NOT is_blank AND NOT has_problem"))
    return outputs


def load_file(
    conn: duckdb.DuckDBPyConnection,
    *,
    catalog: FormatCatalog,
    profile: FormatProfile,
    account: str,
    file_hash: str,
    path: Path,
    file_name: str,
    date_order: str,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> FileLoad:
    """Replace everything stored for (account, file_hash) in this format with a fresh parse.

    The file is parsed into a table of its own first, beside what is stored; one transaction
    then swaps it in, writes the rejects and holds the rows to the contract. Whatever fails, the
    stored records stay as they were and the half-made table goes. A record over
    `max_record_bytes` is a reject, as is one with a NUL or a quote that does not close.
    """
    where = _one_file(account, file_hash)
    loading = file_table(profile, account, file_hash, loading=True)
    try:
        landed = _land_checked(
            conn, path, file_hash, catalog, profile, date_order, loading, max_record_bytes
        )
        facts = landed.facts
        with one_transaction(conn):
            rows_read, rows_accepted, rows_rejected, failures = _replace_records(
                conn,
                catalog=catalog,
                landed=landed,
                loading=loading,
                account=account,
                file_hash=file_hash,
                file_name=file_name,
                date_order=date_order,
            )
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {loading}")
        conn.execute("DROP TABLE IF EXISTS _lines")
    first = conn.execute(
        f"SELECT line_number, column_name, value, reason FROM rejects "
        f"WHERE {where} AND source = ? ORDER BY line_number LIMIT ?",
        [profile.asset, MAX_REASONS_REPORTED],
    ).fetchall()
    return FileLoad(
        account=account,
        file_hash=file_hash,
        format=profile.name,
        file_name=file_name,
        encoding=facts.encoding,
        rows_read=rows_read,
        rows_accepted=rows_accepted,
        rows_rejected=rows_rejected,
        first_reasons=[describe_reject(*row) for row in first],
        contract_failures=failures,
    )


def _replace_records(
    conn: duckdb.DuckDBPyConnection,
    *,
    catalog: FormatCatalog,
    landed: Landed,
    loading: str,
    account: str,
    file_hash: str,
    file_name: str,
    date_order: str,
) -> tuple[int, int, int, pl.DataFrame]:
    """(rows read, accepted, rejected, contract failures), inside the caller's transaction.

    The file's previous table gives way to the one just landed, and the landed view lists it.
    Only the few records that did not parse are parsed again, to say why; the records that
    could not be landed at all are rejects as they are.
    """
    mapping, facts, first_line = landed.mapping, landed.facts, landed.first_line
    profile = mapping.profile
    where = _one_file(account, file_hash)
    table = file_table(profile, account, file_hash)
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"ALTER TABLE {loading} RENAME TO {bare_name(table)}")
    conn.execute(f"DELETE FROM rejects WHERE {where} AND source = ?", [profile.asset])
    conn.execute(
        "INSERT OR REPLACE INTO source_files (account, file_hash, format, file_name, size_bytes, "
        "encoding, first_record_line) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [account, file_hash, profile.name, file_name, facts.size, facts.encoding, first_line],
    )
    write_view(conn, landed_table(profile), landed_view_sql(conn, profile))
    line_sql = line_number_sql(first_line)
    _insert_unreadable(conn, landed.unreadable, account, profile.asset, file_hash, file_name)
    parsed_ok = _scalar(conn, f"SELECT count(*) FROM {table} WHERE accepted")
    rows_read = parsed_ok + len(landed.unreadable)
    if parsed_ok < landed.records:  # some records were blank or did not parse
        not_stored = _stored_records_sql(mapping, table, line_sql)
        problem_sql, reasons_sql = _build_parse_sql(mapping, facts, catalog, date_order, not_stored)
        conn.execute(
            f"""INSERT INTO rejects
                SELECT ?, ?, ?, ?, line_number, r.column, r.value, r.reason
                FROM (SELECT line_number, unnest({reasons_sql}) AS r FROM ({problem_sql})
                      WHERE has_problem AND NOT is_blank)
                ORDER BY 5, 6""",
            [account, profile.asset, file_hash, file_name],
        )
        # Counted from the records themselves, not from the rejects written above, so
        # that the check's arithmetic (accepted + rejected = read) can catch a record
        # lost between.
        not_blank = f"SELECT count(*) FROM ({problem_sql}) WHERE NOT is_blank"
        rows_read += _scalar(conn, not_blank)
    failures = _hold_to_contract(
        conn, catalog, mapping, facts, account, file_hash, file_name, line_sql
    )
    rows_rejected = _scalar(
        conn,
        f"SELECT count(DISTINCT line_number) FROM rejects WHERE {where} AND source = ?",
        [profile.asset],
    )
    rows_accepted = _scalar(conn, f"SELECT count(*) FROM {profile.asset} WHERE {where}")
    conn.execute(
        "UPDATE source_files SET rows_read = ?, rows_accepted = ?, rows_rejected = ? "
        "WHERE account = ? AND file_hash = ? AND format = ?",
        [rows_read, rows_accepted, rows_rejected, account, file_hash, profile.name],
    )
    return rows_read, rows_accepted, rows_rejected, failures


def _insert_unreadable(
    conn: duckdb.DuckDBPyConnection,
    records: list[Record],
    account: str,
    source: str,
    file_hash: str,
    file_name: str,
) -> None:
    """The records that could not be landed, as rejects at the line each starts on."""
    rows = [
        (account, source, file_hash, file_name, r.start, u.column, u.value, u.reason)
        for r in records
        if (u := r.unreadable) is not None
    ]
    if rows:
        conn.executemany("INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def describe_reject(line: int | None, column: str | None, value: str | None, reason: str) -> str:
    """One reject as a sentence: where, what, and what was expected."""
    where = f"line {line}" if line is not None else "file"
    what = f", column {column}" if column else ""
    shown = f": value {value!r}" if value is not None else ""
    return f"{where}{what}{shown}: {reason}"


def _hold_to_contract(
    conn: duckdb.DuckDBPyConnection,
    catalog: FormatCatalog,
    mapping: HeaderMapping,
    facts: CsvFacts,
    account: str,
    file_hash: str,
    file_name: str,
    line_sql: str,
) -> pl.DataFrame:
    """Validate the stored rows with pandera; rows it refuses become rejects and leave the raw
    asset (their records stay landed, no longer accepted).

    Returns what the contract still finds among the rows that stay (the asset check's verdict):
    nothing, unless a failure could not be tied to a row, which then fails the check.
    """
    profile = mapping.profile
    where = _one_file(account, file_hash)
    # Account and file hash are the same on every row selected here: they are added as constants
    # rather than read back as millions of equal strings.
    read = [name for name in contract_columns(profile) if name not in ("account", "file_hash")]
    checked = ", ".join(sp.ident(name) for name in read)
    stored = (
        conn.sql(f"SELECT {checked} FROM {profile.asset} WHERE {where}")
        .pl()
        .with_columns(account=pl.lit(account), file_hash=pl.lit(file_hash))
    )
    failures = _with_lines(contract_failures(stored, profile, catalog), stored)
    if failures.height == 0:
        return failures
    records = []
    for line, column, value, check in failures.select(
        pl.col("line_number"),
        pl.col("column").cast(pl.Utf8),
        pl.col("failure_case").cast(pl.Utf8),
        pl.col("check").cast(pl.Utf8),
    ).rows():
        shown = (
            _shown(mapping, facts.header, column)
            if column in mapping.profile.column_names
            else column
        )
        records.append((line, shown, value, f"contract check failed: {check}"))
    records.sort(key=lambda record: (record[0] is None, record[0] or 0))
    conn.executemany(
        "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(account, profile.asset, file_hash, file_name, *record) for record in records],
    )
    refused = sorted({line for line, *_ in records if line is not None})
    if not refused:
        return failures
    conn.execute(
        f"UPDATE {file_table(profile, account, file_hash)} SET accepted = false "
        f"WHERE {line_sql} IN (SELECT unnest(?))",
        [refused],
    )
    remaining = stored.filter(~pl.col("line_number").is_in(refused))
    return _with_lines(contract_failures(remaining, profile, catalog), remaining)


def _with_lines(failures: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """The file line of each failure case (pandera reports a row index into `frame`), which is
    what a user can look up; NULL for a failure of a whole column."""
    lines = frame.get_column("line_number")
    mapped = [
        lines[i] if i is not None and 0 <= i < len(lines) else None
        for i in failures.get_column("index").to_list()
    ]
    return failures.with_columns(pl.Series("line_number", mapped, dtype=pl.Int64))
