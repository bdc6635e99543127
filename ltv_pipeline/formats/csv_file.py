"""What a CSV file is before any parsing: its hash, encoding, header, and how rows map to lines.

One streaming pass gives the content hash (the file's identity everywhere), whether the bytes are
UTF-8, and whether every record sits on its own line. When they do, a record's line number is
simply its position plus the header line; when the file has blank lines or quoted newlines, the
slower `record_start_lines` walks it with the csv module to number rows exactly as a text editor
would.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

CHUNK = 4 * 1024 * 1024
SNIFF_BYTES = 64 * 1024
BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}
_BLANK_LINE = re.compile(rb"\n(?=\r?\n)")


class CsvFileError(ValueError):
    """The file cannot be read as a CSV export at all."""


@dataclass(frozen=True)
class CsvFacts:
    path: Path
    sha256: str
    size: int
    encoding: str  # "utf-8" or "latin-1"
    header: list[str]
    header_line: int  # 1-based line of the header row
    lines_with_content: int  # physical lines up to the last non-blank byte
    blank_lines_inside: bool  # an empty line before the last content line

    def simple_line_numbers(self, records: int) -> bool:
        """True when record k (1-based) is on line header_line + k, with no exceptions."""
        return not self.blank_lines_inside and self.lines_with_content == self.header_line + records


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_file(path: Path) -> CsvFacts:
    size = path.stat().st_size
    if size == 0:
        raise CsvFileError("the file is empty (0 bytes); expected a CSV export with a header row")
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    newlines = 0
    lines_with_content = 0
    blank_positions: list[int] = []
    last_content = -1  # offset of the last byte that is not whitespace
    offset = 0
    previous_tail = b""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
        _refuse_binary(head)
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            window = previous_tail + chunk
            base = offset - len(previous_tail)
            for match in _BLANK_LINE.finditer(window):
                position = base + match.start()
                if (not blank_positions or position > blank_positions[-1]) and len(
                    blank_positions
                ) < 100_000:
                    blank_positions.append(position)
            stripped = chunk.rstrip(b" \t\r\n")
            if stripped:
                last_content = offset + len(stripped) - 1
                lines_with_content = newlines + stripped.count(b"\n") + 1
            newlines += chunk.count(b"\n")
            previous_tail = chunk[-2:]
            offset += len(chunk)
    encoding = "utf-8" if utf8 else "latin-1"
    text_head = head.decode(encoding, errors="replace")
    header, header_line = _first_record(text_head)
    if not header:
        raise CsvFileError("the file holds no header row (only blank lines)")
    blank_inside = any(position < last_content for position in blank_positions) or (header_line > 1)
    return CsvFacts(
        path=path,
        sha256=digest.hexdigest(),
        size=size,
        encoding=encoding,
        header=header,
        header_line=header_line,
        lines_with_content=lines_with_content,
        blank_lines_inside=blank_inside,
    )


def _refuse_binary(head: bytes) -> None:
    for signature, what in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise CsvFileError(f"this is {what}, not a CSV file; export the report as CSV")
    if b"\x00" in head:
        raise CsvFileError(
            "this looks like a binary file (it contains NUL bytes), not a CSV text export"
        )


def _first_record(text: str) -> tuple[list[str], int]:
    """The first non-blank CSV record in `text` and the line it starts on."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_line = 0
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                return [cell.replace("\ufeff", "").strip() for cell in row], previous_line + 1
            previous_line = reader.line_num
    except csv.Error as exc:
        raise CsvFileError(f"the header row cannot be read as CSV: {exc}") from None
    return [], 0


def record_start_lines(facts: CsvFacts) -> list[int]:
    """The 1-based starting line of every record after the header, blank lines skipped.

    Blank lines are skipped the way DuckDB's reader skips them, so the k-th entry belongs to the
    k-th record DuckDB returns.
    """
    starts: list[int] = []
    with facts.path.open(encoding=facts.encoding, newline="", errors="replace") as handle:
        reader = csv.reader(handle)
        previous_line = 0
        header_seen = False
        for row in reader:
            start = previous_line + 1
            previous_line = reader.line_num
            if not row:
                continue
            if not header_seen:
                if start >= facts.header_line:
                    header_seen = True
                continue
            starts.append(start)
    return starts
