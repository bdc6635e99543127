"""The FastAPI app: `POST /webhooks/samcart/{token}` lands a delivery; `GET /healthz` reports.

Pydantic models describe the answers in the OpenAPI page; the delivery logic itself is in
handler.py, shared with the ASGI fast path (fastpath.py) that uvicorn actually serves.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ltv_core.settings import DEFAULT_ACCOUNT, Settings
from ltv_core.webhook_payload import MAX_NESTING
from ltv_core.webhook_tokens import TokenIndex, ensure_token
from ltv_webhook.body_deadline import BodyDeadlines
from ltv_webhook.fastpath import WebhookFastPath
from ltv_webhook.handler import NOT_FOUND, handle_delivery, is_literal_path
from ltv_webhook.store import LandingStore

log = logging.getLogger("ltv_webhook")


class Accepted(BaseModel):
    """The body is committed to the landing store."""

    status: Literal["accepted"] = "accepted"
    delivery: str = Field(description="SHA-256 of the body: the delivery's identity")
    duplicate: bool = Field(description="True when this exact body was already committed")


class Problem(BaseModel):
    """Why the request was not accepted; `stored` says whether the body was kept anyway."""

    error: str
    detail: str
    stored: bool = False


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    store_writable: bool
    detail: str | None = None


REQUEST_BODY = {
    "required": True,
    "description": "A SamCart notification: a JSON object, or a form-encoded body.",
    "content": {
        "application/json": {"schema": {"type": "object", "additionalProperties": True}},
        "application/x-www-form-urlencoded": {
            "schema": {"type": "object", "additionalProperties": {"type": "string"}}
        },
    },
}


async def app_settings(request: Request) -> Settings:
    """The settings the FastAPI routes run with: those `create_app` was given, unless a test
    overrides this dependency. The store, tokens and body deadlines (lifespan) and the fast path
    in front read the settings once, when the app is created."""
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(app_settings)]


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_token(settings.webhook_tokens_path, DEFAULT_ACCOUNT)
        app.state.tokens = TokenIndex(settings.webhook_tokens_path)
        store = LandingStore(
            settings.webhooks_dir,
            settings.webhook_seal_seconds,
            settings.webhook_commit_interval_ms / 1000,
        )
        await store.start()
        app.state.store = store
        deadlines = BodyDeadlines(settings.webhook_body_timeout_seconds)
        await deadlines.start()
        app.state.deadlines = deadlines
        log.info("landing store ready in %s", settings.webhooks_dir)
        try:
            yield
        finally:
            await deadlines.stop()
            await store.stop()
            log.info("landing store sealed and closed")

    app = FastAPI(
        title="LTV webhook receiver",
        version="1.0.0",
        description="Receives SamCart Notify URL deliveries and lands each one durably "
        "before answering. A 2xx means the body is committed.",
        lifespan=lifespan,
        # This listener is the one exposed to the internet: it serves the webhook route and
        # /healthz only. The OpenAPI document is built from the app (`app.openapi()`) for tests.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # `/healthz/` or `/webhooks/samcart/<token>/` is a 404, not a 307 whose Location echoes
        # the token and whatever Host the request named.
        redirect_slashes=False,
    )
    app.state.settings = settings

    @app.post(
        "/webhooks/samcart/{token}",
        summary="Receive a SamCart notification",
        response_model=Accepted,
        responses={
            400: {
                "model": Problem,
                "description": "Not a JSON object or form, or nested more than "
                f"{MAX_NESTING} levels; "
                "kept as a dead letter (or a malformed Content-Length, not kept)",
            },
            404: {
                "description": "Unknown token or platform, or a percent-escaped URL; "
                "nothing is written"
            },
            408: {
                "model": Problem,
                "description": "The body was not received in time; not kept, and the "
                "connection is closed",
            },
            413: {"model": Problem, "description": "The body is over the size limit"},
            503: {"model": Problem, "description": "The store cannot commit; retry later"},
        },
        openapi_extra={"requestBody": REQUEST_BODY},
    )
    async def receive_samcart(token: str, request: Request, settings: AppSettings) -> Response:
        if not is_literal_path(request.scope.get("raw_path"), request.scope["path"]):
            return Response(NOT_FOUND, status_code=404, media_type="application/json")
        answer = await handle_delivery(
            request.app.state.store,
            request.app.state.tokens,
            settings.webhook_max_body_bytes,
            request.app.state.deadlines,
            token,
            request.stream(),
            request.headers.get("content-length"),
            request.headers.get("content-type"),
        )
        headers = {"connection": "close"} if answer.closes_connection else None
        return Response(
            answer.body, status_code=answer.status, media_type="application/json", headers=headers
        )

    @app.get("/healthz", response_model=Health, summary="Is the landing store writable?")
    async def healthz(request: Request) -> JSONResponse:
        store: LandingStore = request.app.state.store
        if store.healthy:
            return JSONResponse(Health(status="ok", store_writable=True).model_dump())
        detail = store.last_error or "the store is not running"
        return JSONResponse(
            Health(status="unavailable", store_writable=False, detail=detail).model_dump(),
            status_code=503,
        )

    return app


def create_asgi(settings: Settings) -> WebhookFastPath:
    """What uvicorn serves: the webhook fast path in front of the FastAPI app."""
    return WebhookFastPath(create_app(settings), settings.webhook_max_body_bytes)
