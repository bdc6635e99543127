"""Pandera contracts for the raw file assets, on canonical columns (never on export headers).

The contract is derived from the format profile, so a column's type and whether it is required are
stated once. It states what parsing promises downstream: keys present and unique, required values
present, money as exact two-decimal numbers, dates in a sane range, statuses from the vocabulary.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from ltv_core.formats.profiles import ColumnSpec, FormatCatalog, FormatProfile
from ltv_pipeline.lib.sql_parsing import MAX_YEAR, MIN_YEAR

EMAIL_REGEX = r"^[^@\s]+@[^@\s]+$"
MONEY_DTYPE = pl.Decimal(18, 2)
POLARS_TYPES: dict[str, pl.DataType] = {
    "text": pl.Utf8,
    "email": pl.Utf8,
    "money": MONEY_DTYPE,
    "date": pl.Date,
    "time": pl.Time,
    "integer": pl.Int32,
}


def _unique_values(data: PolarsData) -> pl.LazyFrame | bool:
    """Each value once. Rows come back in line order, and values that increase from row to row
    are unique without hashing every one; otherwise each repeated value is a failure case."""
    column = pl.col(data.key)
    increasing = (column.diff() > 0).all() & column.is_not_null().all()
    if data.lazyframe.select(increasing).collect().item():
        return True
    return data.lazyframe.select(~column.is_duplicated())


def _column(spec: ColumnSpec, catalog: FormatCatalog, required: bool) -> pa.Column:
    checks: list[pa.Check] = []
    if spec.type == "email":
        checks.append(pa.Check.str_matches(EMAIL_REGEX))
    elif spec.type == "date":
        checks.append(pa.Check.in_range(dt.date(MIN_YEAR, 1, 1), dt.date(MAX_YEAR, 12, 31)))
    elif spec.type == "integer":
        checks.append(pa.Check.ge(0))
    elif spec.type == "text" and required:
        checks.append(pa.Check.str_length(min_value=1))
    if spec.vocabulary:
        allowed = sorted(set(catalog.spellings(spec.vocabulary).values()))
        checks.append(pa.Check.isin(allowed))
        dtype = pl.Utf8
    else:
        dtype = POLARS_TYPES[spec.type]
    return pa.Column(dtype, checks=checks, nullable=not required)


def _is_required(spec: ColumnSpec, profile: FormatProfile) -> bool:
    """Required in the contract: required by the format, or filled from a fallback."""
    return spec.required or spec.fallback is not None


def contract_columns(profile: FormatProfile) -> list[str]:
    """The columns the contract speaks about: keys, and every column with a rule to check.

    Optional free-text columns carry no rule beyond their SQL type, which the table enforces,
    so they are left out to keep validation fast on million-row files.
    """
    names = ["account", "file_hash", "line_number"]
    for spec in profile.columns:
        if spec.type != "text" or spec.vocabulary or _is_required(spec, profile):
            names.append(spec.name)
    if profile.timestamp is not None:
        names.append(profile.timestamp.name)
    return names


def raw_file_schema(profile: FormatProfile, catalog: FormatCatalog) -> pa.DataFrameSchema:
    columns: dict[str, pa.Column] = {
        "account": pa.Column(pl.Utf8, pa.Check.str_length(min_value=1)),
        "file_hash": pa.Column(pl.Utf8, pa.Check.str_length(64, 64)),
        # The contract holds one file's rows (one partition), where the line is the row's key:
        # unique on its own, which is cheaper to prove than the triple with two constant strings.
        "line_number": pa.Column(
            pl.Int64,
            [pa.Check.ge(1), pa.Check(_unique_values, name="field_uniqueness")],
        ),
    }
    checked = set(contract_columns(profile))
    for spec in profile.columns:
        if spec.name in checked:
            columns[spec.name] = _column(spec, catalog, _is_required(spec, profile))
    if profile.timestamp is not None:
        columns[profile.timestamp.name] = pa.Column(pl.Datetime("us"), nullable=False)
    return pa.DataFrameSchema(
        columns,
        strict=False,
        name=f"{profile.asset}_contract",
    )


def contract_failures(
    frame: pl.DataFrame, profile: FormatProfile, catalog: FormatCatalog
) -> pl.DataFrame:
    """Failure cases (column, check, failure_case, index) of one file's rows; empty when the
    frame is valid."""
    try:
        raw_file_schema(profile, catalog).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return errors.failure_cases
    return pl.DataFrame(
        schema={"failure_case": pl.Utf8, "column": pl.Utf8, "check": pl.Utf8, "index": pl.Int32}
    )
