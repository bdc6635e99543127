"""Land, parse, check and store one archived export file: the body of every raw file asset.

The whole file is read by DuckDB as text cells, parsed by SQL built from the format profile, the
accepted rows checked by the pandera contract, and then, in one transaction, the file's previous
rows are replaced: its landed cells, its typed rows, its rejects. Running it twice gives the same
tables, which is what makes a backfill from the UI safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ltv_pipeline.contracts.raw_files import contract_columns, contract_failures
from ltv_pipeline.formats.csv_file import CsvFacts, CsvFileError, inspect_file, record_start_lines
from ltv_pipeline.formats.detect import HeaderMapping, mapping_for
from ltv_pipeline.formats.profiles import ColumnSpec, FormatCatalog, FormatProfile
from ltv_pipeline.lib import sql_parsing as sp
from ltv_pipeline.lib.tables import landed_table, raw_columns

MAX_REASONS_REPORTED = 5
OVERFLOW_COLUMNS = 4


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


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """One value, with the result fully consumed (DuckDB 2 refuses new work before that)."""
    return conn.execute(sql, params or []).fetchall()[0][0]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_cells(conn: duckdb.DuckDBPyConnection, facts: CsvFacts) -> None:
    """All cells of all records as text, in file order, into the temp table `_cells`.

    The dialect is fixed (no sniffing: small messy files defeat it), and a few spare columns
    catch rows with more cells than the header, so they can be rejected rather than truncated.
    """
    width = len(facts.header) + OVERFLOW_COLUMNS
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    base = (
        f"read_csv({sp.quote(str(facts.path))}, header = true, auto_detect = false, "
        f"columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"', "
        f"null_padding = true, strict_mode = false, skip = {facts.header_line - 1}, "
        f"encoding = {sp.quote(facts.encoding)}"
    )
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE _cells AS SELECT * FROM {base})")
    except duckdb.Error as exc:
        if "parallel=false" not in str(exc):
            raise CsvFileError(f"the file cannot be read as CSV: {_first_line(exc)}") from None
        # Quoted newlines together with ragged rows need the sequential reader.
        try:
            conn.execute(
                f"CREATE OR REPLACE TEMP TABLE _cells AS SELECT * FROM {base}, parallel = false)"
            )
        except duckdb.Error as exc2:
            raise CsvFileError(f"the file cannot be read as CSV: {_first_line(exc2)}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _line_numbers(conn: duckdb.DuckDBPyConnection, facts: CsvFacts, records: int) -> str:
    """A SQL expression for each record's line number, registering `_lines` when needed."""
    if facts.simple_line_numbers(records):
        return f"(_cells.rowid + 1 + {facts.header_line})"
    starts = record_start_lines(facts)
    if len(starts) != records:
        # The csv module and DuckDB disagree about this file's records (exotic quoting):
        # number them by position, which is exact for every file without blank lines.
        return f"(_cells.rowid + 1 + {facts.header_line})"
    lines = pl.DataFrame(
        {"record": range(records), "line": starts}, schema={"record": pl.Int64, "line": pl.Int64}
    )
    conn.register("_lines_frame", lines)
    conn.execute("CREATE OR REPLACE TEMP TABLE _lines AS SELECT * FROM _lines_frame")
    conn.unregister("_lines_frame")
    return "(SELECT line FROM _lines WHERE record = _cells.rowid)"


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


def _cell(mapping: HeaderMapping, name: str) -> str | None:
    position = mapping.positions.get(name)
    return None if position is None else f"c{position}"


def _shown(mapping: HeaderMapping, header: list[str], name: str) -> str:
    """A column as the user knows it: the file's own header, else SamCart's usual name."""
    position = mapping.positions.get(name)
    if position is not None:
        return header[position]
    return (mapping.profile.column(name).aliases or (name,))[0]


def _extra_sql(mapping: HeaderMapping) -> str:
    """Columns no alias recognises, kept as a JSON object under their own headers."""
    if not mapping.extra:
        return "NULL::JSON"
    pairs = ", ".join(f"{sp.quote(name)}, c{pos}" for pos, name in mapping.extra.items())
    return f"json_object({pairs})::JSON"


def _blank_sql(facts: CsvFacts) -> str:
    """A row whose every cell is empty (a blank row at the end of an export) is not a row."""
    cells = ", ".join(f"c{i}" for i in range(len(facts.header) + OVERFLOW_COLUMNS))
    return f"(coalesce({cells}) IS NULL)"


def _text_sql(column: ColumnSpec, cell: str | None) -> str:
    if cell is None:
        return "NULL::VARCHAR"
    return sp.clean_text_sql(cell)


def _build_parse_sql(
    mapping: HeaderMapping,
    facts: CsvFacts,
    catalog: FormatCatalog,
    date_order: str,
    line_expr: str,
    overflow_width: int,
) -> tuple[str, str]:
    """SQL creating `_parsed` (typed values plus a problem flag), and the reasons expression.

    Reasons are only built for rows that have a problem, when the rejects are written.
    """
    profile = mapping.profile
    header = facts.header
    width = len(header)
    overflow = [f"c{i}" for i in range(width, width + overflow_width)]

    text_select = [f"{line_expr} AS line_number"]
    for column in profile.columns:
        text = _text_sql(column, _cell(mapping, column.name))
        text_select.append(f"{text} AS {_ident('t_' + column.name)}")
    text_select.append(f"{_extra_sql(mapping)} AS extra_columns")
    text_select.append(f"{_blank_sql(facts)} AS is_blank")
    overflow_sql = f"concat_ws(',', {', '.join(overflow)})" if overflow else "NULL::VARCHAR"
    text_select.append(f"NULLIF({overflow_sql}, '') AS overflow_cells")

    typed_select = []
    problems: list[tuple[str, str, str, str]] = []  # (condition, column shown, value, reason)
    one_of = {name: group for group in profile.required_one_of for name in group}
    for column in profile.columns:
        text = _ident("t_" + column.name)
        value = _ident("v_" + column.name)
        typed = _typed_sql(column, text, catalog, date_order)
        if column.fallback:
            fallback = profile.column(column.fallback)
            fallback_typed = _typed_sql(fallback, _ident("t_" + fallback.name), catalog, date_order)
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
            none_present = " AND ".join(f"{_ident('t_' + name)} IS NULL" for name in group)
            names = " or ".join(_shown(mapping, header, name) for name in group)
            problems.append(
                (f"({none_present})", shown, text, sp.quote(f"required value is missing: {names}"))
            )
    problems.append(
        (
            "overflow_cells IS NOT NULL",
            "(row)",
            "overflow_cells",
            sp.quote(f"the row has more cells than the {width} columns of the header"),
        )
    )
    has_problem = " OR ".join(condition for condition, *_ in problems)
    parse_sql = f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH texts AS (SELECT {", ".join(text_select)} FROM _cells),
        typed AS (SELECT *, {", ".join(typed_select)} FROM texts WHERE NOT is_blank)
        SELECT *, coalesce({has_problem}, false) AS has_problem FROM typed
    """
    reasons = ", ".join(
        f"{{'column': {sp.quote(shown)}, 'value': {value}, "
        f"'reason': CASE WHEN {condition} THEN {reason} END}}"
        for condition, shown, value, reason in problems
    )
    return parse_sql, f"list_filter([{reasons}], lambda r: r.reason IS NOT NULL)"


def _typed_output(profile: FormatProfile) -> list[str]:
    """Expressions for the raw asset's columns, in table order, from `_parsed`."""
    outputs = []
    for name, sql_type in raw_columns(profile):
        if name == "extra_columns":
            outputs.append("extra_columns")
        elif profile.timestamp is not None and name == profile.timestamp.name:
            date = _ident("v_" + profile.timestamp.date)
            if profile.timestamp.time:
                time = _ident("v_" + profile.timestamp.time)
                outputs.append(
                    f"CASE WHEN {time} IS NOT NULL THEN CAST({date} AS DATE) + {time} "
                    f"ELSE {date} END"
                )
            else:
                outputs.append(date)
        else:
            outputs.append(f"CAST({_ident('v_' + name)} AS {sql_type})")
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
) -> FileLoad:
    """Replace everything stored for (account, file_hash) in this format with a fresh parse."""
    facts = inspect_file(path)
    if facts.sha256 != file_hash:
        raise CsvFileError(
            f"the archived copy {path} no longer matches its content hash {file_hash}; "
            "it was changed on disk after import"
        )
    mapping = mapping_for(catalog, profile.name, facts.header)
    _read_cells(conn, facts)
    records = _scalar(conn, "SELECT count(*) FROM _cells")
    line_expr = _line_numbers(conn, facts, records)
    parse_sql, reasons_sql = _build_parse_sql(
        mapping, facts, catalog, date_order, line_expr, OVERFLOW_COLUMNS
    )
    conn.execute(parse_sql)

    keys = f"{sp.quote(account)} AS account, {sp.quote(file_hash)} AS file_hash, line_number"
    typed = ", ".join(
        f"{expr} AS {_ident(name)}"
        for expr, (name, _) in zip(_typed_output(profile), raw_columns(profile), strict=True)
    )
    accepted_sql = f"SELECT {keys}, {typed} FROM _parsed WHERE NOT has_problem"
    checked = ", ".join(_ident(name) for name in contract_columns(profile))
    failures = contract_failures(
        conn.sql(f"SELECT {checked} FROM ({accepted_sql})").pl(), profile, catalog
    )
    _contract_rejects(conn, failures, accepted_sql, mapping, facts)

    source = profile.asset
    params = [account, file_hash]
    landed = landed_table(profile)
    cells = ", ".join(_cell(mapping, c.name) or "NULL" for c in profile.columns)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM {landed} WHERE account = ? AND file_hash = ?", params)
        conn.execute(
            f"INSERT INTO {landed} SELECT {keys}, {cells}, {_extra_sql(mapping)} FROM "
            f"(SELECT {line_expr} AS line_number, * FROM _cells WHERE NOT {_blank_sql(facts)})"
        )
        conn.execute(f"DELETE FROM {profile.asset} WHERE account = ? AND file_hash = ?", params)
        conn.execute(
            f"INSERT INTO {profile.asset} {accepted_sql} "
            "AND line_number NOT IN (SELECT line_number FROM _contract_rejects)"
        )
        conn.execute(
            "DELETE FROM rejects WHERE account = ? AND file_hash = ? AND source = ?",
            [*params, source],
        )
        conn.execute(
            f"""INSERT INTO rejects
                SELECT ?, ?, ?, ?, line_number, r.column, r.value, r.reason
                FROM (SELECT line_number, unnest({reasons_sql}) AS r FROM _parsed
                      WHERE has_problem)
                UNION ALL
                SELECT ?, ?, ?, ?, line_number, column_name, value, reason FROM _contract_rejects
                ORDER BY 5, 6""",
            [account, source, file_hash, file_name] * 2,
        )
        rows_read = _scalar(conn, "SELECT count(*) FROM _parsed")
        rows_rejected = _scalar(
            conn,
            "SELECT count(DISTINCT line_number) FROM rejects "
            "WHERE account = ? AND file_hash = ? AND source = ?",
            [*params, source],
        )
        rows_accepted = _scalar(
            conn,
            f"SELECT count(*) FROM {profile.asset} WHERE account = ? AND file_hash = ?",
            params,
        )
        conn.execute(
            "INSERT OR REPLACE INTO source_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                account,
                file_hash,
                profile.name,
                file_name,
                facts.size,
                facts.encoding,
                rows_read,
                rows_accepted,
                rows_rejected,
            ],
        )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        for table in ("_cells", "_lines", "_parsed", "_contract_rejects"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    first = conn.execute(
        "SELECT line_number, column_name, value, reason FROM rejects "
        "WHERE account = ? AND file_hash = ? AND source = ? ORDER BY line_number LIMIT ?",
        [*params, source, MAX_REASONS_REPORTED],
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
    )


def describe_reject(line: int | None, column: str | None, value: str | None, reason: str) -> str:
    """One reject as a sentence: where, what, and what was expected."""
    where = f"line {line}" if line is not None else "file"
    what = f", column {column}" if column else ""
    shown = f": value {value!r}" if value is not None else ""
    return f"{where}{what}{shown}: {reason}"


def _contract_rejects(
    conn: duckdb.DuckDBPyConnection,
    failures: pl.DataFrame,
    accepted_sql: str,
    mapping: HeaderMapping,
    facts: CsvFacts,
) -> None:
    """Turn pandera failure cases into reject rows in the temp table `_contract_rejects`."""
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _contract_rejects (line_number BIGINT, column_name VARCHAR, "
        "value VARCHAR, reason VARCHAR)"
    )
    if failures.height == 0:
        return
    lines = [row[0] for row in conn.execute(f"SELECT line_number FROM ({accepted_sql})").fetchall()]
    records = []
    for index, column, value, check in failures.select(
        pl.col("index").cast(pl.Int64),
        pl.col("column").cast(pl.Utf8),
        pl.col("failure_case").cast(pl.Utf8),
        pl.col("check").cast(pl.Utf8),
    ).rows():
        line = lines[index] if index is not None and index < len(lines) else None
        shown = (
            _shown(mapping, facts.header, column)
            if column in mapping.profile.column_names
            else column
        )
        records.append((line, shown, value, f"contract check failed: {check}"))
    conn.executemany("INSERT INTO _contract_rejects VALUES (?, ?, ?, ?)", records)
