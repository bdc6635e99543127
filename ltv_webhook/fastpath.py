"""The webhook route served as plain ASGI in front of the FastAPI app.

Profiling under wrk showed FastAPI's per-request machinery (middleware stack, Request object,
dependency solving) taking more than half of the event loop's time, which capped the durable
endpoint near 40% of a bare FastAPI endpoint. This wrapper answers `POST /webhooks/samcart/<t>`
itself with the same `handle_delivery` the FastAPI route uses, and passes everything else
(docs, OpenAPI, /healthz, lifespan, other methods and paths) to the FastAPI app unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI

from ltv_webhook.handler import NOT_FOUND, Answer, handle_delivery, is_literal_path

PREFIX = "/webhooks/samcart/"
JSON_HEADERS = [(b"content-type", b"application/json")]
CLOSE_HEADERS = [(b"connection", b"close")]


class ClientDisconnected(Exception):
    """The sender went away before its body was complete: nothing is landed or answered."""


class WebhookFastPath:
    def __init__(self, app: FastAPI, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith(PREFIX)
            or "/" in path[len(PREFIX) :]
            or len(path) == len(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        if not is_literal_path(scope.get("raw_path"), path):
            await self._answer(send, Answer(404, NOT_FOUND))
            return
        content_length = content_type = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                content_length = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1")

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnected  # a truncated body must never be committed
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        state = self.app.state
        try:
            answer = await handle_delivery(
                state.store,
                state.tokens,
                self.limit,
                state.deadlines,
                path[len(PREFIX) :],
                chunks(),
                content_length,
                content_type,
            )
        except ClientDisconnected:
            return  # no one to answer, and nothing was committed
        await self._answer(send, answer)

    async def _answer(self, send, answer: Answer) -> None:
        headers = [*JSON_HEADERS, (b"content-length", str(len(answer.body)).encode())]
        if answer.closes_connection:
            headers += CLOSE_HEADERS
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
