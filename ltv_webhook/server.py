"""Serving the app with uvicorn: one process, one event loop, access log off (URLs hold tokens)."""

from __future__ import annotations

import logging

import uvicorn

from ltv_core.home_layout import keep_files_private
from ltv_core.settings import Settings
from ltv_webhook.app import create_asgi
from ltv_webhook.header_limits import bounded_headers_protocol

KEEP_ALIVE_SECONDS = 5  # an idle connection between requests is closed after this


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    keep_files_private()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    uvicorn.run(
        create_asgi(settings),
        host=host or settings.webhook_host,
        port=port or settings.webhook_port,
        access_log=False,  # the access log would print the secret token in every URL
        # Headers get the body's time limit and a size limit (uvicorn has neither).
        http=bounded_headers_protocol(settings.webhook_body_timeout_seconds),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
