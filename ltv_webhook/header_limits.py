"""Limits on receiving request headers: uvicorn's httptools protocol has neither.

Without them a connection that sends nothing, or its headers at one byte a second, was held
forever (300 of them used up the sidecar's file descriptors and every delivery failed), and one
connection sending 97.5 MB of headers grew the sidecar by 95 MB. Here headers must be complete
within `seconds` of the connection opening or of their request's first byte (else the
connection is closed), and at most MAX_HEADER_BYTES long (else 431 and close). Deadlines are
checked by one sweep per `seconds / 4` (at most 1 s), as body_deadline.py does for bodies, not
by a timer per request. The httptools parser is kept: it is what the throughput was measured on.

Closing is lingering: a connection closed while the sender may still be sending (a 413 to a
`Connection: close` request with its 1 MiB body on the way) first sends the answer and a FIN,
then reads and drops up to LINGER_BYTES for up to LINGER_SECONDS. Closed at once, the unread
bytes made the kernel send a reset, and the sender saw ECONNRESET instead of its 413.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Request line and headers; SamCart's are well under 2 KB (h11's own default limit is 16 KiB).
MAX_HEADER_BYTES = 64 * 1024
MAX_SWEEP_SECONDS = 1.0
MIN_SWEEP_SECONDS = 0.05
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024
TOO_LARGE_DETAIL = f"the request headers are over the limit of {MAX_HEADER_BYTES} bytes"
TOO_LARGE = json.dumps(
    {"error": "headers_too_large", "detail": TOO_LARGE_DETAIL, "stored": False}
).encode()
TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n\r\n%s" % (len(TOO_LARGE), TOO_LARGE)
)


class HeaderDeadlines:
    """The connections still receiving headers, and when each must be done; one sweep each
    interval closes those past their time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.interval = min(max(seconds / 4, MIN_SWEEP_SECONDS), MAX_SWEEP_SECONDS)
        self._deadlines: dict[asyncio.Transport, float] = {}
        self._sweeping = False

    def arm(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._deadlines.setdefault(transport, loop.time() + self.seconds)
        if not self._sweeping:
            self._sweeping = True
            loop.call_later(self.interval, self._sweep, loop)

    def disarm(self, transport: asyncio.Transport) -> None:
        self._deadlines.pop(transport, None)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for transport in [t for t, deadline in self._deadlines.items() if deadline <= now]:
            del self._deadlines[transport]
            transport.close()
        if self._deadlines:
            loop.call_later(self.interval, self._sweep, loop)
        else:
            self._sweeping = False


class LingeringTransport:
    """The connection's transport as uvicorn sees it; only `close` differs (see above)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self.lingering = False
        self.dropped = 0

    def __getattr__(self, name: str):
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self.lingering or self._transport.is_closing()

    def close(self) -> None:
        if self.is_closing():
            return
        if not self._transport.can_write_eof():
            self._transport.close()
            return
        self.lingering = True
        self._transport.write_eof()  # after what is buffered: the answer goes out first
        self._transport.resume_reading()
        self._loop.call_later(LINGER_SECONDS, self._transport.close)

    def drop(self, data: bytes) -> None:
        self.dropped += len(data)
        if self.dropped > LINGER_BYTES:
            self._transport.close()


def bounded_headers_protocol(header_timeout_seconds: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the header limits above (pass it as `http=`)."""
    deadlines = HeaderDeadlines(header_timeout_seconds)

    class BoundedHeadersProtocol(HttpToolsProtocol):
        _header_bytes = 0
        _awaiting_headers = True  # from the connection's start, and after each request

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(LingeringTransport(transport, self.loop))
            deadlines.arm(self.transport, self.loop)  # a connection that never sends a byte

        def connection_lost(self, exc: Exception | None) -> None:
            deadlines.disarm(self.transport)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.transport.lingering:
                self.transport.drop(data)
                return
            if self._awaiting_headers:
                self._header_bytes += len(data)
            super().data_received(data)
            # Only bytes of headers still incomplete after this chunk count against the limit.
            if self._awaiting_headers and self._header_bytes > MAX_HEADER_BYTES:
                deadlines.disarm(self.transport)
                if not self.transport.is_closing():
                    self.transport.write(TOO_LARGE_RESPONSE)
                    self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            deadlines.arm(self.transport, self.loop)

        def on_headers_complete(self) -> None:
            self._awaiting_headers = False
            self._header_bytes = 0
            deadlines.disarm(self.transport)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._awaiting_headers = True
            super().on_message_complete()

    return BoundedHeadersProtocol
