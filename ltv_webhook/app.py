"""The FastAPI app: `POST /webhooks/samcart/{token}` lands a delivery; `GET /healthz` reports.

Order of questions per request: is the token known (else 404, nothing read or written)? Is the
body within the limit (else 413)? Then the body is committed, parseable or not, and only then
answered: 200 for a JSON object or a form, 400 with the reason for anything else (kept as a dead
letter), 503 when the store cannot commit. Logs carry the account and a hash prefix, never a
body, an email address or a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ltv_pipeline.settings import DEFAULT_ACCOUNT, Settings, get_settings
from ltv_webhook.body import BadLength, BodyTooLarge, read_limited
from ltv_webhook.payload import PayloadError, parse_payload
from ltv_webhook.store import Delivery, LandingStore, StoreUnavailable
from ltv_webhook.tokens import TokenIndex, ensure_token

log = logging.getLogger("ltv_webhook")
MAX_CONTENT_TYPE_CHARS = 200


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


def _problem(status: int, error: str, detail: str, stored: bool = False) -> JSONResponse:
    return JSONResponse(
        Problem(error=error, detail=detail, stored=stored).model_dump(), status_code=status
    )


def _accepted(content_hash: str, duplicate: bool) -> Response:
    body = json.dumps({"status": "accepted", "delivery": content_hash, "duplicate": duplicate})
    return Response(body, media_type="application/json")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    limit = settings.webhook_max_body_bytes

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_token(settings.webhook_tokens_path, DEFAULT_ACCOUNT)
        app.state.tokens = TokenIndex(settings.webhook_tokens_path)
        store = LandingStore(settings.webhooks_dir, settings.webhook_seal_seconds)
        await store.start()
        app.state.store = store
        log.info("landing store ready in %s", settings.webhooks_dir)
        try:
            yield
        finally:
            await store.stop()
            log.info("landing store sealed and closed")

    app = FastAPI(
        title="LTV webhook sidecar",
        version="1.0.0",
        description="Receives SamCart Notify URL deliveries and lands each one durably "
        "before answering. A 2xx means the body is committed.",
        lifespan=lifespan,
    )

    @app.post(
        "/webhooks/samcart/{token}",
        summary="Receive a SamCart notification",
        response_model=Accepted,
        responses={
            400: {
                "model": Problem,
                "description": "Not a JSON object or form; kept as a dead "
                "letter (or a malformed Content-Length, not kept)",
            },
            404: {"description": "Unknown token or platform; nothing is written"},
            413: {"model": Problem, "description": "The body is over the size limit"},
            503: {"model": Problem, "description": "The store cannot commit; retry later"},
        },
        openapi_extra={"requestBody": REQUEST_BODY},
    )
    async def receive_samcart(token: str, request: Request) -> Response:
        account = request.app.state.tokens.account_for(token)
        if account is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        try:
            body = await read_limited(request, limit)
        except BodyTooLarge as exc:
            return _problem(413, "body_too_large", str(exc))
        except BadLength as exc:
            return _problem(400, "bad_content_length", str(exc))
        content_type = request.headers.get("content-type")
        outcome, reason = "accepted", None
        try:
            parse_payload(body, content_type)
        except PayloadError as exc:
            outcome, reason = "dead_letter", str(exc)
        content_hash = hashlib.sha256(body).hexdigest()
        delivery = Delivery(
            account=account,
            content_hash=content_hash,
            received_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            content_type=content_type[:MAX_CONTENT_TYPE_CHARS] if content_type else None,
            body=body,
            outcome=outcome,
            reason=reason,
        )
        try:
            duplicate = await request.app.state.store.land(delivery)
        except StoreUnavailable as exc:
            log.warning("503 for account=%s delivery=%s: %s", account, content_hash[:12], exc)
            return _problem(503, "store_unavailable", str(exc))
        if reason is not None:
            log.info("dead letter kept: account=%s delivery=%s", account, content_hash[:12])
            return _problem(400, "unparseable_body", reason, stored=True)
        return _accepted(content_hash, duplicate)

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
