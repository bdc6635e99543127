"""Reading a request body under a size limit, whether or not the sender said how long it is."""

from __future__ import annotations

from collections.abc import AsyncIterator


class BodyTooLarge(Exception):
    """The body is over the limit (HTTP 413)."""


class BadLength(Exception):
    """The Content-Length header is not a number (HTTP 400)."""


def check_declared_length(declared: str | None, limit: int) -> None:
    """Refuse early on the header alone, before reading a byte."""
    if declared is None:
        return
    if not declared.strip().isdigit():
        raise BadLength(f"Content-Length {declared[:40]!r} is not a whole number")
    if int(declared) > limit:
        raise BodyTooLarge(f"the body is {int(declared)} bytes; the limit is {limit} bytes")


async def read_limited(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """The whole body, stopping as soon as it passes `limit` bytes (chunked bodies included)."""
    check_declared_length(declared, limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)
