"""Reading a request body under a size limit, whether or not the sender said how long it is."""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body is over the limit (HTTP 413)."""


class BadLength(Exception):
    """The Content-Length header is not a number (HTTP 400)."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, stopping as soon as it passes `limit` bytes (chunked bodies included)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadLength(f"Content-Length {declared[:40]!r} is not a whole number")
        if int(declared) > limit:
            raise BodyTooLarge(f"the body is {int(declared)} bytes; the limit is {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
