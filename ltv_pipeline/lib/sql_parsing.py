"""SQL expressions that turn text cells into typed values, shared by every parser.

Parsing happens inside DuckDB so that a million-row export parses at column speed. Each function
takes a SQL expression that yields trimmed, non-empty text (or NULL) and returns a SQL expression
that yields the typed value, or NULL when the text does not fit. The paired `*_EXPECTED` strings
are the "expected form" quoted in rejection reasons, so the message and the rule live together.
"""

from __future__ import annotations

from ltv_core.formats.profiles import normalize_label

MIN_YEAR = 1990
MAX_YEAR = 2100

# A currency marker: a symbol or a short code (USD, US$, kr), before or after the number.
_CURRENCY = r"(?:\p{Sc}|[A-Za-z]{1,3}\p{Sc}?)?"
# Thousands separators only in groups of three; at most two decimals (trailing zeros allowed).
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{0,2}0*)?|\.\d{1,2}0*"
MONEY_PATTERN = rf"^-?{_CURRENCY}-?(?:{_NUMBER}){_CURRENCY}$"
MONEY_EXPECTED = "an amount with at most 2 decimals, such as 1234.50, $1,234.50, -$5.00 or ($5.00)"

DATE_FORMATS: dict[str, list[str]] = {
    "MDY": ["%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y"],
    "DMY": ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"],
    "YMD": ["%Y/%m/%d", "%Y.%m.%d"],
}
DATE_EXAMPLES = {"MDY": "MM/DD/YYYY", "DMY": "DD/MM/YYYY", "YMD": "YYYY/MM/DD"}
ISO_FORMATS = ["%Y-%m-%d"]
TIME_SUFFIXES = ["", " %H:%M:%S", " %H:%M", " %I:%M:%S %p", " %I:%M %p"]
ISO_TIME_SUFFIXES = ["", " %H:%M:%S", " %H:%M", "T%H:%M:%S", "T%H:%M:%SZ", "T%H:%M:%S.%fZ"]
TIME_FORMATS = ["%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p"]
TIME_EXPECTED = "a time such as 14:05:00 or 2:05 PM"
INTEGER_EXPECTED = "a whole number such as 3"
EMAIL_EXPECTED = "an email address containing @"


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A SQL identifier, quoted, whatever characters the name holds."""
    return '"' + name.replace('"', '""') + '"'


def _list(items: list[str]) -> str:
    return "[" + ", ".join(quote(item) for item in items) + "]"


# Spaces, tabs, line ends, no-break spaces and stray byte-order marks, as one SQL literal.
WHITESPACE = "' \t\n\r\u00a0\ufeff'"


def clean_text_sql(expr: str) -> str:
    """Trim surrounding spaces; empty becomes NULL.

    The guard matters for speed: most cells have nothing to trim, and trim() allocates a new
    string for every call. Rarer whitespace (tabs, no-break spaces) is handled where it changes
    a value's meaning: in the email key and in money.
    """
    return (
        f"CASE WHEN prefix({expr}, ' ') OR suffix({expr}, ' ') "
        f"THEN NULLIF(trim({expr}, {WHITESPACE}), '') "
        f"ELSE NULLIF({expr}, '') END"
    )


def money_sql(expr: str) -> str:
    """Exact DECIMAL(18,2) dollars; parentheses or a leading minus make it negative.

    Most cells look like `$47.00` or `$1,497.00`; they take cheap paths (a regex match and a
    cast), which matter on million-row files: the full pattern costs several regex replacements
    per cell. Everything else goes through it: currency codes, accounting negatives, odd spacing.
    """
    plain = "'\\$?\\d{1,15}(\\.\\d{1,2})?'"
    grouped = "'\\$?\\d{1,3}(,\\d{3}){1,4}(\\.\\d{1,2})?'"
    return (
        f"CASE WHEN regexp_full_match({expr}, {plain}) "
        f"THEN CAST(ltrim({expr}, '$') AS DECIMAL(18,2)) "
        f"WHEN regexp_full_match({expr}, {grouped}) "
        f"THEN CAST(replace(ltrim({expr}, '$'), ',', '') AS DECIMAL(18,2)) "
        f"ELSE {_money_full_sql(expr)} END"
    )


def _money_full_sql(expr: str) -> str:
    stripped = f"regexp_replace({expr}, '[\\s\\x{{a0}}]', '', 'g')"
    in_parens = f"(starts_with({stripped}, '(') AND ends_with({stripped}, ')'))"
    body = f"CASE WHEN {in_parens} THEN {stripped}[2:-2] ELSE {stripped} END"
    digits = f"regexp_replace({body}, '[^0-9.]', '', 'g')"
    negative = f"({in_parens} OR contains({body}, '-'))"
    return (
        f"CASE WHEN regexp_full_match({body}, {quote(MONEY_PATTERN)}) "
        f"AND NOT ({in_parens} AND contains({body}, '-')) "
        f"AND length({body}) - length(replace({body}, '-', '')) <= 1 "
        f"THEN TRY_CAST(TRY_CAST({digits} AS DECIMAL(38,10)) AS DECIMAL(18,2)) "
        f"* CASE WHEN {negative} THEN -1 ELSE 1 END END"
    )


def date_formats(date_order: str) -> list[str]:
    """The configured day order first, then ISO; never another day order (no guessing)."""
    formats = [base + suffix for base in DATE_FORMATS[date_order] for suffix in TIME_SUFFIXES]
    formats += [base + suffix for base in ISO_FORMATS for suffix in ISO_TIME_SUFFIXES]
    return formats


def date_expected(date_order: str) -> str:
    return (
        f"a date as {DATE_EXAMPLES[date_order]} or YYYY-MM-DD (optionally with a time), "
        f"year {MIN_YEAR}-{MAX_YEAR}"
    )


def timestamp_sql(expr: str, date_order: str) -> str:
    """A naive local TIMESTAMP; impossible dates (02/30/2024) and odd years give NULL."""
    parsed = f"try_strptime({expr}, {_list(date_formats(date_order))})"
    return f"CASE WHEN year({parsed}) BETWEEN {MIN_YEAR} AND {MAX_YEAR} THEN {parsed} END"


def time_sql(expr: str) -> str:
    return f"CAST(try_strptime(upper({expr}), {_list(TIME_FORMATS)}) AS TIME)"


def integer_sql(expr: str) -> str:
    cleaned = f"replace({expr}, ',', '')"
    return (
        f"CASE WHEN regexp_full_match({cleaned}, '\\+?\\d{{1,9}}') "
        f"THEN CAST({cleaned} AS INTEGER) END"
    )


def email_sql(expr: str) -> str:
    """The customer key: trimmed and case-folded; NULL unless it has exactly one @ inside.

    An address that is already lower case with nothing to trim (most of them) is kept as it is:
    one regex instead of trim + lower + regex, a third of the cost on a million rows.
    """
    folded = f"lower(trim({expr}, {WHITESPACE}))"
    return (
        f"CASE WHEN regexp_full_match({expr}, '[a-z0-9._%+\\-]+@[a-z0-9.\\-]+') THEN {expr} "
        f"WHEN regexp_full_match({folded}, '[^@\\s]+@[^@\\s]+') THEN {folded} END"
    )


def normalize_label_sql(expr: str) -> str:
    """The SQL twin of profiles.normalize_label, for spelling look-ups."""
    return f"trim(regexp_replace(lower({expr}), '[^0-9a-z]+', ' ', 'g'))"


def vocabulary_sql(expr: str, spellings: dict[str, str]) -> str:
    """Map any known spelling to its canonical value; NULL for an unknown one.

    Most cells are a spelling apart from case (`Charged`), which lower() settles; only the
    others pay for the regex that normalises punctuation and spacing. A normalised spelling is
    its own normalisation, so both paths give the same answer for it.
    """
    branches = " ".join(
        f"WHEN {quote(spelling)} THEN {quote(canonical)}"
        for spelling, canonical in sorted(spellings.items())
        if normalize_label(spelling) == spelling
    )
    return (
        f"coalesce(CASE lower({expr}) {branches} END, "
        f"CASE {normalize_label_sql(expr)} {branches} END)"
    )


def vocabulary_expected(spellings: dict[str, str]) -> str:
    values = sorted(set(spellings.values()))
    return "one of " + ", ".join(values) + " (more spellings can be added in formats.toml)"


__all__ = [
    "EMAIL_EXPECTED",
    "INTEGER_EXPECTED",
    "MONEY_EXPECTED",
    "TIME_EXPECTED",
    "clean_text_sql",
    "date_expected",
    "email_sql",
    "ident",
    "integer_sql",
    "money_sql",
    "normalize_label",
    "quote",
    "time_sql",
    "timestamp_sql",
    "vocabulary_expected",
    "vocabulary_sql",
]
