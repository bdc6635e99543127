"""A CSV file read record by record, for the files DuckDB's fast reader cannot be given as is.

DuckDB reads a clean file at full speed, but leniently: a quote that is never closed makes it
read the lines after it into one cell, a NUL byte goes into a cell, and one record over its line
limit fails the whole file. When the content scan or the line count shows such a file, it is
read here with Python's csv module in strict mode, which tells where each record starts and
ends and whether its quotes close. Every physical line then belongs to exactly one record: one
to load, or one that cannot be, with the reason. The records to load are written to a clean
UTF-8 copy that DuckDB reads instead of the file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ltv_core.formats.csv_file import CsvFacts, CsvFileError

# Python's own limit on a cell (128 KiB) would cut a long cell into several records; the limit
# that counts is the settings' limit on a whole record, applied here per record.
FIELD_SIZE_LIMIT = 2**31 - 1
QUOTED_CHARS = 120  # how much of a record a reject quotes
LINE_ENDS = ("\r\n", "\n", "\r")
LINE_END_CHARS = ("\n", "\r")
# Python decodes a UTF-8 file with its byte-order mark dropped, like DuckDB does.
TEXT_ENCODINGS = {"utf-8": "utf-8-sig"}


@dataclass(frozen=True)
class Unreadable:
    """Why a record cannot be loaded, as a reject says it."""

    column: str
    value: str | None
    reason: str


@dataclass(frozen=True)
class Record:
    start: int  # 1-based physical line where the record starts
    end: int  # its last line (later than start when a quoted cell holds line breaks)
    cells: list[str]
    unreadable: Unreadable | None = None


@dataclass(frozen=True)
class CleanCopy:
    """The loadable records of a file, rewritten as plain UTF-8 CSV for DuckDB."""

    path: Path
    starts: list[int]  # the starting line of each record of the copy, in order
    unreadable: list[Record]  # the records left out, with why


class _Lines:
    """The file's lines for the csv reader, remembering those of the record being read.

    A line ends at CR LF, LF or CR alone, as a text editor numbers lines and as the content scan
    counts them (the file is opened with `newline=""`, so each line comes with its own end). A
    record's text is kept up to twice the record limit: enough to quote it and to find its
    quotes; its size is counted in full.
    """

    def __init__(self, handle: TextIO, encoding: str, keep_chars: int) -> None:
        self._handle = handle
        self._encoding = encoding
        self._keep_chars = keep_chars
        self.next_line = 1
        self.begin()

    def begin(self) -> None:
        self.start = self.next_line
        self.kept: list[str] = []
        self.kept_chars = 0
        self.size = 0  # bytes of the record's lines, line ends included
        self.last_line = ""
        self.last_with_content = self.start  # the last of its lines that is not blank

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._handle)
        if line.strip():
            self.last_with_content = self.next_line
        if line.endswith(LINE_END_CHARS):
            self.next_line += 1
        self.size += _byte_length(line, self._encoding)
        self.last_line = line
        if self.kept_chars < self._keep_chars:
            self.kept.append(line)
            self.kept_chars += len(line)
        return line

    def text(self) -> str:
        return "".join(self.kept)

    def end(self) -> int:
        """The record's last line (the line end that ends it starts the next one)."""
        return self.next_line - 1 if self.last_line.endswith(LINE_END_CHARS) else self.next_line

    def size_without_line_end(self) -> int:
        ending = next((e for e in LINE_ENDS if self.last_line.endswith(e)), "")
        return self.size - len(ending)


def read_records(facts: CsvFacts, max_record_bytes: int) -> Iterator[Record]:
    """Every record after the header, in order, blank lines skipped as DuckDB skips them (so the
    k-th record here is DuckDB's k-th when the file is clean). A record that is over
    `max_record_bytes`, holds a NUL, or ran over several lines because a quote did not close
    where it should comes with why it cannot be loaded.
    """
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
    encoding = TEXT_ENCODINGS.get(facts.encoding, facts.encoding)
    with facts.path.open(encoding=encoding, newline="") as handle:
        lines = _Lines(handle, facts.encoding, keep_chars=2 * max_record_bytes)
        reader = csv.reader(lines, strict=True)
        header_seen = False
        while True:
            lines.begin()
            try:
                cells: list[str] | None = next(reader)
                error = None
            except StopIteration:
                return
            except csv.Error as exc:
                cells, error = None, str(exc)
            except UnicodeDecodeError as exc:
                raise CsvFileError(
                    f"the file starts with a {facts.encoding.upper()} byte-order mark but does "
                    f"not decode as {facts.encoding.upper()} at line {lines.next_line}: "
                    f"{exc.reason}"
                ) from None
            if not header_seen:
                header_seen = lines.start >= facts.header_line and cells != []
                continue
            if cells == []:
                continue  # a blank line
            yield _record(lines, cells, error, facts.header, max_record_bytes)


def _record(
    lines: _Lines, cells: list[str] | None, error: str | None, header: list[str], limit: int
) -> Record:
    start, text = lines.start, lines.text()
    if cells is None:
        at_end = error is not None and "unexpected end of data" in error
        # A quote open to the end of the file: the file's trailing blank lines are no record's.
        end = lines.last_with_content if at_end else lines.end()
        if end == start:
            # A quote problem within one line (`"ab"c`, or `"ab` on the last line) took no
            # other line: read leniently, as DuckDB reads such a line in a clean file.
            cells = next(csv.reader([text]))
        else:
            return Record(start, end, [], _unclosed_quote(text, start, end, at_end))
    end = lines.end()
    size = lines.size_without_line_end()
    if size > limit:
        reason = (
            f"the record is {size:,} bytes, over the limit of {limit:,} bytes for one record "
            f"(LTV_MAX_RECORD_BYTES); lines {start}-{end}"
            if end > start
            else f"the record is {size:,} bytes, over the limit of {limit:,} bytes for one "
            "record (LTV_MAX_RECORD_BYTES)"
        )
        return Record(start, end, [], Unreadable("(row)", _quoted(text), reason))
    for position, cell in enumerate(cells):
        if "\x00" in cell:
            column = header[position] if position < len(header) else "(row)"
            reason = (
                "the cell holds a NUL byte, which no text export has: the file is damaged "
                "here; export it again"
            )
            return Record(start, end, [], Unreadable(column, cell[:QUOTED_CHARS], reason))
    return Record(start, end, cells)


def _unclosed_quote(text: str, start: int, end: int, at_end: bool) -> Unreadable:
    opened = _last_opened_quote(text, start)
    if at_end:
        how = f"the quote opened on line {opened} is not closed before line {end} ends the file"
    else:
        how = (
            f"the quote opened on line {opened} is not closed before line {end}, where a quote "
            "is followed by other text instead of a comma or the line's end"
        )
    reason = f"{how}; lines {start}-{end} were read as one record (a stray or missing '\"')"
    return Unreadable("(row)", _quoted(text), reason)


def _last_opened_quote(text: str, start: int) -> int:
    """The line of the quote left open where a strict reader gives up: at the end of `text`, or
    where a closing quote is followed by something other than a comma or a line end."""
    line, opened, state, previous = start, start, "field start", ""
    for char in text:
        if state == "quoted":
            if char == '"':
                state = "quote in quoted"
        elif state == "quote in quoted":
            if char == '"':
                state = "quoted"  # a doubled quote
            elif char in ",\r\n":
                state = "field start"
            else:
                return opened
        elif char == '"' and state == "field start":
            state, opened = "quoted", line
        else:
            state = "field start" if char in ",\r\n" else "field"
        if char == "\r" or (char == "\n" and previous != "\r"):
            line += 1
        previous = char
    return opened


def _quoted(text: str) -> str:
    """The start of a record as a reject quotes it: its first line, shortened."""
    first = re.split("\r\n|\n|\r", text, maxsplit=1)[0]
    return first if len(first) <= QUOTED_CHARS else first[:QUOTED_CHARS] + "..."


def _byte_length(line: str, encoding: str) -> int:
    if encoding == "latin-1" or line.isascii():
        return len(line) * (2 if encoding == "utf-16" else 1)
    return len(line.encode("utf-16-le" if encoding == "utf-16" else encoding))


def write_clean_copy(facts: CsvFacts, max_record_bytes: int, target: Path) -> CleanCopy:
    """The loadable records of the file written to `target` as UTF-8 CSV after its header, and
    the records left out."""
    starts: list[int] = []
    unreadable: list[Record] = []
    with target.open("w", encoding="utf-8", newline="") as out:
        # Records end in CR LF: the writer quotes a cell holding a character of its line end,
        # and with "\n" alone a cell holding a lone CR would go unquoted, a line end to DuckDB.
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(facts.header)
        for record in read_records(facts, max_record_bytes):
            if record.unreadable is not None:
                unreadable.append(record)
            else:
                writer.writerow(record.cells)
                starts.append(record.start)
    return CleanCopy(target, starts, unreadable)
