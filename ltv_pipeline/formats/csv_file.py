"""What a CSV file is before any parsing: its hash, encoding, header, and how rows map to lines.

One streaming pass gives the content hash (the file's identity everywhere) and the number of
lines, which tells whether every record sits on its own line. When they do, a record's line
number is its position plus the header line; when the file has blank lines or quoted newlines,
the slower `record_start_lines` walks it with the csv module to number rows exactly as a text
editor would.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, fields
from pathlib import Path

CHUNK = 4 * 1024 * 1024
SNIFF_BYTES = 64 * 1024
BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}


class CsvFileError(ValueError):
    """The file cannot be read as a CSV export at all."""


@dataclass(frozen=True)
class CsvHead:
    """What the start of the file tells: enough to read it."""

    path: Path
    size: int
    encoding: str  # "utf-8" or "latin-1"
    header: list[str]
    header_line: int  # 1-based line of the header row


@dataclass(frozen=True)
class CsvFacts(CsvHead):
    """The head, and what only a pass over the whole file tells."""

    sha256: str
    lines_with_content: int  # physical lines up to the last non-blank byte

    def simple_line_numbers(self, records: int) -> bool:
        """True when record k (1-based) is on line header_line + k, with no exceptions.

        Blank lines (which the reader skips) and quoted newlines both add lines without adding
        records, so the counts agree exactly when neither occurs.
        """
        return self.lines_with_content == self.header_line + records


def sha256_of(path: Path) -> str:
    return scan_content(path)[0]


def inspect_file(path: Path) -> CsvFacts:
    head = inspect_head(path)
    return with_content(head, *scan_content(path))


def inspect_head(path: Path) -> CsvHead:
    """Refuse what is not a CSV export, and find its encoding and header, from its first bytes."""
    size = path.stat().st_size
    if size == 0:
        raise CsvFileError("the file is empty (0 bytes); expected a CSV export with a header row")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    _refuse_binary(head)
    encoding = "utf-8" if _is_utf8(head) else "latin-1"
    header, header_line = _first_record(head.decode(encoding, errors="replace"))
    if not header:
        raise CsvFileError("the file holds no header row (only blank lines)")
    return CsvHead(path=path, size=size, encoding=encoding, header=header, header_line=header_line)


def scan_content(path: Path) -> tuple[str, int]:
    """(content hash, lines up to the last non-blank byte) in one streaming pass.

    It releases the GIL for most of its time (reading and hashing), so it can run in a thread
    while DuckDB reads the same file.
    """
    digest = hashlib.sha256()
    newlines = 0
    lines_with_content = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            in_chunk = chunk.count(b"\n")
            end = _content_end(chunk)
            if end > 0:
                # Newlines after the chunk's last non-blank byte do not end a content line.
                lines_with_content = newlines + in_chunk - chunk.count(b"\n", end) + 1
            newlines += in_chunk
    return digest.hexdigest(), lines_with_content


def with_content(head: CsvHead, sha256: str, lines_with_content: int) -> CsvFacts:
    known = {f.name: getattr(head, f.name) for f in fields(head)}
    return CsvFacts(**known, sha256=sha256, lines_with_content=lines_with_content)


def _content_end(chunk: bytes) -> int:
    """Length of `chunk` up to its last non-whitespace byte (0 if it is all whitespace)."""
    tail = chunk[-256:]
    stripped = len(tail.rstrip(b" \t\r\n"))
    if stripped:
        return len(chunk) - len(tail) + stripped
    return len(chunk.rstrip(b" \t\r\n"))


def _is_utf8(head: bytes) -> bool:
    """UTF-8 judged on the first 64 KiB (a cut multi-byte character at the end is fine)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3
    return True


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
