"""CSV written for people: text that a spreadsheet would run as a formula is neutralised.

One writer for `ltv report --format csv`, `ltv sql` and the report page's downloads, so a
downloaded table is byte for byte what the CLI prints.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Prefix a quote to text starting like a formula; numbers (even negative) stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
