"""What a CSV file is before any parsing: its hash, encoding, header, and how rows map to lines.

The first 64 KiB give the header and a first guess at the encoding. One streaming pass over the
whole file then gives the content hash (the file's identity everywhere), the number of lines
(which tells whether every record sits on its own line), and what decides how the file can be
read: whether all of it is UTF-8 (else it is Latin-1), whether it holds a NUL byte, whether its
quotes pair up, and whether it mixes CR LF line ends with CR alone. A line ends at CR LF, LF or
CR alone ("classic Mac"), as a text editor shows it and as Python's csv module reads it. When
every record is one line, a record's line number is its position plus the header line;
otherwise `csv_records` reads the file record by record.
"""

from __future__ import annotations

import codecs
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
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class CsvFileError(ValueError):
    """The file cannot be read as a CSV export at all."""


@dataclass(frozen=True)
class CsvHead:
    """What the start of the file tells: enough to read it."""

    path: Path
    size: int
    # "utf-16" (by its byte-order mark), else "utf-8" or "latin-1" as the first 64 KiB suggest;
    # the whole file decides between those two (`CsvFacts.encoding`).
    encoding: str
    header: list[str]
    header_line: int  # 1-based line of the header row


@dataclass(frozen=True)
class ContentScan:
    """What one streaming pass over the bytes of the whole file tells."""

    sha256: str
    lines_with_content: int  # physical lines up to the last byte that is not a line end
    utf8: bool  # every byte of the file is valid UTF-8
    has_nul: bool
    quotes_paired: bool  # an even number of '"' bytes
    lone_cr_among_crlf: bool  # a CR not followed by LF, in a file that also has CR LF


@dataclass(frozen=True)
class CsvFacts(CsvHead):
    """The head, and what only a pass over the whole file tells; `encoding` is the whole file's."""

    sha256: str
    lines_with_content: int  # physical lines up to the last byte that is not a line end
    has_nul: bool
    quotes_paired: bool
    lone_cr_among_crlf: bool

    @property
    def needs_record_reading(self) -> bool:
        """True when DuckDB's reader cannot be given the file as it is, and `csv_records` must
        read it record by record: UTF-16 (its bytes say nothing of lines, quotes or NULs), a NUL
        byte (DuckDB would store it in a cell), a quote that does not pair up (DuckDB would
        read the rest of the file into one cell, or the lines up to the next stray quote), or a
        CR alone in a file of CR LF lines (DuckDB takes the byte after it for the LF it expects
        and drops it from the next record)."""
        return (
            self.encoding == "utf-16"
            or self.has_nul
            or not self.quotes_paired
            or self.lone_cr_among_crlf
        )

    def simple_line_numbers(self, records: int) -> bool:
        """True when record k (1-based) is on line header_line + k, with no exceptions.

        Blank lines (which the reader skips) and quoted newlines both add lines without adding
        records, so the counts agree exactly when neither occurs.
        """
        return self.lines_with_content == self.header_line + records


def sha256_of(path: Path) -> str:
    return scan_content(path).sha256


def inspect_file(path: Path) -> CsvFacts:
    head = inspect_head(path)
    return with_content(head, scan_content(path))


def inspect_head(path: Path) -> CsvHead:
    """Refuse what is not a CSV export, and find its encoding and header, from its first bytes."""
    size = path.stat().st_size
    if size == 0:
        raise CsvFileError("the file is empty (0 bytes); expected a CSV export with a header row")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    _refuse_binary(head)
    if head.startswith(UTF16_BOMS):
        encoding = "utf-16"
        text = head[: len(head) // 2 * 2].decode(encoding, errors="replace")
    else:
        encoding = "utf-8" if _is_utf8(head) else "latin-1"
        text = head.decode(encoding, errors="replace")
    header, header_line = _first_record(text)
    if not header:
        raise CsvFileError("the file holds no header row (only blank lines)")
    if any("\x00" in name for name in header):
        raise CsvFileError(
            "this looks like a binary file (its first line contains NUL bytes), not a CSV text "
            "export; UTF-16 text needs its byte-order mark (or save it as UTF-8)"
        )
    return CsvHead(path=path, size=size, encoding=encoding, header=header, header_line=header_line)


def scan_content(path: Path) -> ContentScan:
    """The file's hash, lines, encoding and damage, in one streaming pass.

    It releases the GIL for most of its time (reading, hashing, counting), so it can run in a
    thread while DuckDB reads the same file. An ASCII chunk (most of them) costs one quick test
    for the encoding; only the others are decoded.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    line_ends = 0
    lines_with_content = 0
    crs = crlfs = 0
    after_cr = False  # the previous chunk ended with a CR, whose LF may start this one
    utf8 = True
    has_nul = False
    quotes = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            in_chunk, chunk_crs, chunk_crlfs = _line_ends(chunk)
            if after_cr and chunk.startswith(b"\n"):
                in_chunk, chunk_crlfs = in_chunk - 1, chunk_crlfs + 1
            end = _content_end(chunk)
            if end > 0:
                # Line ends after the chunk's last other byte do not end a content line.
                lines_with_content = line_ends + in_chunk - _line_ends(chunk[end:])[0] + 1
            line_ends += in_chunk
            crs += chunk_crs
            crlfs += chunk_crlfs
            after_cr = chunk.endswith(b"\r")
            has_nul = has_nul or b"\x00" in chunk
            quotes += chunk.count(b'"')
            # A character cut by the chunk's end waits in the decoder for the next chunk.
            if utf8 and not (chunk.isascii() and not decoder.getstate()[0]):
                utf8 = _decodes(decoder, chunk)
    utf8 = utf8 and _decodes(decoder, b"", final=True)
    return ContentScan(
        sha256=digest.hexdigest(),
        lines_with_content=lines_with_content,
        utf8=utf8,
        has_nul=has_nul,
        quotes_paired=quotes % 2 == 0,
        lone_cr_among_crlf=crlfs > 0 and crs > crlfs,
    )


def with_content(head: CsvHead, scan: ContentScan) -> CsvFacts:
    """The head with what the whole file says, which decides its encoding: UTF-8 only when all
    of it is (an accented Latin-1 byte a megabyte in makes it Latin-1)."""
    known = {f.name: getattr(head, f.name) for f in fields(head)}
    if head.encoding != "utf-16":
        known["encoding"] = "utf-8" if scan.utf8 else "latin-1"
    return CsvFacts(
        **known,
        sha256=scan.sha256,
        lines_with_content=scan.lines_with_content,
        has_nul=scan.has_nul,
        quotes_paired=scan.quotes_paired,
        lone_cr_among_crlf=scan.lone_cr_among_crlf,
    )


def _decodes(decoder: codecs.IncrementalDecoder, chunk: bytes, final: bool = False) -> bool:
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return False
    return True


def _line_ends(data: bytes) -> tuple[int, int, int]:
    """(line ends, CRs, CR LFs) in `data`: a line ends at CR LF, LF, or CR alone."""
    lfs = data.count(b"\n")
    if b"\r" not in data:  # most files: one quick look
        return lfs, 0, 0
    crs, crlfs = data.count(b"\r"), data.count(b"\r\n")
    return lfs + crs - crlfs, crs, crlfs


def _content_end(chunk: bytes) -> int:
    """Length of `chunk` up to its last byte that is not a line end (0 if it is all line ends).

    Spaces count: DuckDB reads a line of spaces as a record (a blank one), so it is a line with
    content, or the line count would not match the records when such a line ends the file.
    """
    tail = chunk[-256:]
    stripped = len(tail.rstrip(b"\r\n"))
    if stripped:
        return len(chunk) - len(tail) + stripped
    return len(chunk.rstrip(b"\r\n"))


def _is_utf8(head: bytes) -> bool:
    """UTF-8 judged on the first 64 KiB (a cut multi-byte character at the end is fine)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3
    return True


def _refuse_binary(head: bytes) -> None:
    """Refuse the usual wrong uploads by their signature. A NUL byte further in is a damaged
    record, rejected on its own (`csv_records`); only a NUL in the header refuses the file."""
    for signature, what in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise CsvFileError(f"this is {what}, not a CSV file; export the report as CSV")


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
