"""Streaming a multipart upload straight to disk, under a name we generate, within a size limit.

The request body is parsed as it arrives (python-multipart's push parser), so a file is never held
in memory or spooled to a temporary folder we do not control, and an upload over the limit is
stopped as soon as it crosses it. Nothing the client sends is used as a path.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header

FIELD_LIMIT_BYTES = 1024  # the small form fields (format, account)
SNIFF_BYTES = 8192  # how much of the file start is checked for binary content
FILE_FIELD = "file"


class UploadRejected(Exception):
    """The upload cannot be accepted; `status_code` and the message go back to the user."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass
class StreamedUpload:
    """What arrived: the file (already on disk at `temp_path`) and the other form fields."""

    temp_path: Path
    client_name: str = ""
    size: int = 0
    sha256: str = ""
    fields: dict[str, str] = field(default_factory=dict)


def _disposition(headers: dict[bytes, bytes]) -> tuple[str, str | None]:
    """(field name, client file name or None) from a part's Content-Disposition header."""
    _, params = parse_options_header(headers.get(b"content-disposition", b""))
    name = params.get(b"name", b"").decode("utf-8", "replace")
    filename = params.get(b"filename")
    return name, None if filename is None else filename.decode("utf-8", "replace")


class _Receiver:
    """The parser's callbacks: route file bytes to disk, small fields to memory."""

    def __init__(self, temp_path: Path, max_bytes: int) -> None:
        self.upload = StreamedUpload(temp_path)
        self.max_bytes = max_bytes
        self._hash = hashlib.sha256()
        self._out = None
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._field: str | None = None
        self._is_file = False
        self._value = bytearray()
        self._sniffed = bytearray()
        self.saw_file = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self._headers = {}
        self._header_field = self._header_value = b""
        self._value = bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def headers_finished(self) -> None:
        name, filename = _disposition(self._headers)
        self._field = name
        self._is_file = name == FILE_FIELD and filename is not None
        if self._is_file:
            if self.saw_file:
                raise UploadRejected(400, "send one file per upload")
            self.saw_file = True
            self.upload.client_name = filename or ""
            fd = os.open(self.upload.temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._out = os.fdopen(fd, "wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self._is_file:
            self._value += chunk
            if len(self._value) > FIELD_LIMIT_BYTES:
                raise UploadRejected(400, f"the form field {self._field!r} is too long")
            return
        self.upload.size += len(chunk)
        if self.upload.size > self.max_bytes:
            raise UploadRejected(
                413,
                f"the file is larger than the upload limit of {self.max_bytes:,} bytes "
                "(setting LTV_WEB_MAX_UPLOAD_BYTES)",
            )
        if len(self._sniffed) < SNIFF_BYTES:
            self._sniffed += chunk[: SNIFF_BYTES - len(self._sniffed)]
            if b"\x00" in self._sniffed:
                raise UploadRejected(
                    415,
                    "the file is not a CSV text file (it contains binary data): choose the "
                    "CSV file SamCart emailed you",
                )
        self._hash.update(chunk)
        assert self._out is not None
        self._out.write(chunk)

    def part_end(self) -> None:
        if self._is_file and self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
        elif self._field:
            self.upload.fields[self._field] = self._value.decode("utf-8", "replace").strip()
        self._is_file = False

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def finish(self) -> StreamedUpload:
        self.upload.sha256 = self._hash.hexdigest()
        return self.upload


async def stream_upload(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    temp_path: Path,
    max_bytes: int,
) -> StreamedUpload:
    """Parse a multipart/form-data body into `temp_path` (created here, removed on any error)."""
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRejected(400, "expected a multipart/form-data upload (the page's form)")
    # Refuse early what is certainly too big; the count while streaming catches the rest
    # (chunked bodies carry no length).
    overhead = 64 * 1024
    if content_length and content_length.isdigit() and int(content_length) > max_bytes + overhead:
        raise UploadRejected(
            413,
            f"the file is larger than the upload limit of {max_bytes:,} bytes "
            "(setting LTV_WEB_MAX_UPLOAD_BYTES)",
        )
    receiver = _Receiver(temp_path, max_bytes)
    parser = MultipartParser(boundary, receiver.callbacks())
    try:
        async for chunk in body:
            if chunk:
                # Disk writes happen in a worker thread so the event loop keeps serving pages.
                await anyio.to_thread.run_sync(parser.write, chunk)
        parser.finalize()
    except UploadRejected:
        receiver.close()
        temp_path.unlink(missing_ok=True)
        raise
    except Exception as exc:
        receiver.close()
        temp_path.unlink(missing_ok=True)
        raise UploadRejected(400, f"the upload could not be read as a form: {exc}") from None
    receiver.close()
    if not receiver.saw_file:
        temp_path.unlink(missing_ok=True)
        raise UploadRejected(400, "no file was chosen")
    upload = receiver.finish()
    if upload.size == 0:
        temp_path.unlink(missing_ok=True)
        raise UploadRejected(400, "the file is empty")
    return upload
