"""How one file's records are parsed, as SQL text: pure, no connection and no I/O.

From the file's header mapping, its header, the format catalog and the date order come the
query that names each record's cells by canonical column, the query that parses them (typed
values, and flags for a blank record and for a problem), the expression listing a problem
record's reasons, and the columns of the file's landed table. Landing runs these over the CSV
reader; storing runs them again over the few records that did not become rows, to say why.
Keeping them in one place is what makes the two passes agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltv_core.formats.detect import HeaderMapping
from ltv_core.formats.profiles import ColumnSpec, FormatCatalog, FormatProfile
from ltv_pipeline.lib import sql_parsing as sp
from ltv_pipeline.warehouse.landed import stored_when_changed, typed_columns, typed_name

# Spare cells read beyond the header, so that a row with more cells than the header is rejected
# rather than silently truncated.
OVERFLOW_COLUMNS = 4


@dataclass(frozen=True)
class Problem:
    """One way a record can fail: when (`condition`), at which column as the user knows it, the
    value to quote (a SQL expression) and the reason (a SQL string literal)."""

    condition: str
    shown: str
    value: str
    reason: str


@dataclass(frozen=True)
class ParsePlan:
    """What parsing one file needs to know: which cell is which column, and how values are read."""

    mapping: HeaderMapping
    header: tuple[str, ...]
    catalog: FormatCatalog
    date_order: str

    @property
    def profile(self) -> FormatProfile:
        return self.mapping.profile

    def shown(self, name: str) -> str:
        """A column as the user knows it: the file's own header, else SamCart's usual name."""
        position = self.mapping.positions.get(name)
        if position is not None:
            return self.header[position]
        return (self.profile.column(name).aliases or (name,))[0]

    def records_sql(self, source: str) -> str:
        """Every record of `source` (a CSV reader with cells c0, c1, ...) by canonical name, with
        its unknown columns and spare cells.

        The one shape that is both landed as text and parsed, so the two can never disagree. The
        line number is not known while reading (the table's rowid gives it later), hence NULL.
        """
        mapping, profile = self.mapping, self.profile
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
        width = len(self.header)
        spare = ", ".join(f"c{i}" for i in range(width, width + OVERFLOW_COLUMNS))
        return (
            f"SELECT NULL AS line_number, {named}, {extra} AS extra_columns, "
            f"NULLIF(concat_ws(',', {spare}), '') AS overflow_cells FROM {source}"
        )

    def not_accepted_records_sql(self, table: str, line_sql: str) -> str:
        """The records of a file's landed `table` that did not become rows, in `records_sql`'s
        shape (a column the file does not have is NULL), to be parsed again for the reasons."""
        mapping = self.mapping
        named = ", ".join(
            sp.ident(c.name) if c.name in mapping.positions else f"NULL AS {sp.ident(c.name)}"
            for c in self.profile.columns
        )
        extra = "extra_columns" if mapping.extra else "NULL AS extra_columns"
        return (
            f"SELECT {line_sql} AS line_number, {named}, {extra}, overflow_cells "
            f"FROM {table} WHERE NOT accepted"
        )

    def parse_sql(self, records: str) -> str:
        """A query parsing `records` (in `records_sql`'s shape): their cells, the cleaned text of
        the cells a reject may quote, typed values, and flags for a blank record and a problem."""
        profile = self.profile
        cells = [sp.ident(c.name) for c in profile.columns]
        texts = ["line_number", "extra_columns", "overflow_cells", *cells]
        texts += [
            f"{sp.clean_text_sql(sp.ident(c.name))} AS {sp.ident('t_' + c.name)}"
            for c in profile.columns
        ]
        typed_select = [
            f"{self._typed_value_sql(c)} AS {sp.ident('v_' + c.name)}" for c in profile.columns
        ]
        has_problem = " OR ".join(problem.condition for problem in self.problems())
        kept_texts = [sp.ident("t_" + c.name) for c in profile.columns if _checked(c, profile)]
        return f"""
        WITH texts AS (SELECT {", ".join(texts)} FROM ({records})),
        typed AS (
            SELECT *, {self._blank_sql()} AS is_blank, {", ".join(typed_select)} FROM texts
        )
        SELECT line_number, extra_columns, overflow_cells, {", ".join(cells)},
               {", ".join(kept_texts)},
               {", ".join(sp.ident("v_" + c.name) for c in profile.columns)},
               is_blank, coalesce({has_problem}, false) AS has_problem
        FROM typed
    """

    def reasons_sql(self) -> str:
        """The expression listing a parsed record's reasons (over `parse_sql`'s columns); only
        evaluated for the records that have a problem, when the rejects are written."""
        reasons = ", ".join(
            f"{{'column': {sp.quote(p.shown)}, 'value': {p.value}, "
            f"'reason': CASE WHEN {p.condition} THEN {p.reason} END}}"
            for p in self.problems()
        )
        return f"list_filter([{reasons}], lambda r: r.reason IS NOT NULL)"

    def problems(self) -> list[Problem]:
        """Every way a record can fail, column by column, and last a row with too many cells."""
        profile = self.profile
        problems = []
        one_of = {name: group for group in profile.required_one_of for name in group}
        for column in profile.columns:
            text = sp.ident("t_" + column.name)
            value = sp.ident("v_" + column.name)
            shown = self.shown(column.name)
            if column.required:
                problems.append(
                    Problem(f"{text} IS NULL", shown, text, "'required value is missing'")
                )
            if column.type != "text" or column.vocabulary:
                expected = sp.quote("expected " + self._expected(column))
                problems.append(
                    Problem(f"({text} IS NOT NULL AND {value} IS NULL)", shown, text, expected)
                )
            group = one_of.get(column.name)
            if group and group[0] == column.name:
                none_present = " AND ".join(f"{sp.ident('t_' + name)} IS NULL" for name in group)
                names = " or ".join(self.shown(name) for name in group)
                reason = sp.quote(f"required value is missing: {names}")
                problems.append(Problem(f"({none_present})", shown, text, reason))
        too_many = f"the row has more cells than the {len(self.header)} columns of the header"
        problems.append(
            Problem("overflow_cells IS NOT NULL", "(row)", "overflow_cells", sp.quote(too_many))
        )
        return problems

    def landed_columns(self) -> list[tuple[str, str]]:
        """(column, expression over `parse_sql`) of the file's landed table: the cells the file
        has, its unknown columns if any, spare cells, the typed values, and whether it is a row."""
        mapping, profile = self.mapping, self.profile
        outputs = [
            (c.name, sp.ident(c.name)) for c in profile.columns if c.name in mapping.positions
        ]
        if mapping.extra:
            outputs.append(("extra_columns", "extra_columns"))
        outputs.append(("overflow_cells", "overflow_cells"))
        for name, sql_type in typed_columns(profile):
            if not self._has_cells(name):
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
                # NULL where the value is the cleaned cell itself (see stored_when_changed).
                value = f"NULLIF({sp.ident('v_' + name)}, {sp.ident('t_' + name)})"
            else:
                value = f"CAST({sp.ident('v_' + name)} AS {sql_type})"
            outputs.append((typed_name(name), value))
        outputs.append(("accepted", "NOT is_blank AND NOT has_problem"))
        return outputs

    def landing_sql(self, source: str) -> str:
        """The rows of the file's landed table, parsed from `source` (a CSV reader)."""
        columns = ", ".join(f"{expr} AS {sp.ident(name)}" for name, expr in self.landed_columns())
        return f"SELECT {columns} FROM ({self.parse_sql(self.records_sql(source))})"

    def _blank_sql(self) -> str:
        """Whether a record has no content at all.

        COALESCE stops at the first non-NULL value, so the cells that are almost always filled
        (required ones first) settle nearly every record; the others are cleaned only on demand.
        """
        profile = self.profile
        checked = sorted(
            (c for c in profile.columns if _checked(c, profile)), key=lambda c: not c.required
        )
        others = [c for c in profile.columns if not _checked(c, profile)]
        return (
            "coalesce("
            + ", ".join(
                [sp.ident("t_" + c.name) for c in checked]
                + [sp.clean_text_sql(sp.ident(c.name)) for c in others]
                + ["CAST(extra_columns AS VARCHAR)", "overflow_cells"]
            )
            + ") IS NULL"
        )

    def _typed_value_sql(self, column: ColumnSpec) -> str:
        """A column's typed value, read from its fallback column when its own does not parse."""
        typed = self._typed_sql(column)
        if column.fallback:
            typed = f"coalesce({typed}, {self._typed_sql(self.profile.column(column.fallback))})"
        return typed

    def _typed_sql(self, column: ColumnSpec) -> str:
        text = sp.ident("t_" + column.name)
        if column.vocabulary:
            return sp.vocabulary_sql(text, self.catalog.spellings(column.vocabulary))
        return {
            "text": text,
            "email": sp.email_sql(text),
            "money": sp.money_sql(text),
            "date": sp.timestamp_sql(text, self.date_order),
            "time": sp.time_sql(text),
            "integer": sp.integer_sql(text),
        }[column.type]

    def _expected(self, column: ColumnSpec) -> str:
        if column.vocabulary:
            return sp.vocabulary_expected(self.catalog.spellings(column.vocabulary))
        return {
            "email": sp.EMAIL_EXPECTED,
            "money": sp.MONEY_EXPECTED,
            "date": sp.date_expected(self.date_order),
            "time": sp.TIME_EXPECTED,
            "integer": sp.INTEGER_EXPECTED,
        }.get(column.type, "text")

    def _has_cells(self, name: str) -> bool:
        """Whether the file has a cell a raw column is parsed from (itself, its fallback, or for
        the timestamp its date): a column without is NULL in every record, and is not stored."""
        profile, positions = self.profile, self.mapping.positions
        if profile.timestamp is not None and name == profile.timestamp.name:
            return profile.timestamp.date in positions
        fallback = profile.column(name).fallback
        return name in positions or (fallback is not None and fallback in positions)


def _checked(column: ColumnSpec, profile: FormatProfile) -> bool:
    """Columns whose text can make a row fail, and so is kept to quote in a reject."""
    in_group = any(column.name in group for group in profile.required_one_of)
    return column.required or in_group or column.type != "text" or column.vocabulary is not None
