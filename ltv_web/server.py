"""Serving the pages with uvicorn on their own listener (127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import uvicorn

from ltv_core.home_layout import keep_files_private
from ltv_core.settings import Settings
from ltv_web.app import create_app


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    keep_files_private()
    # An address given on the command line is the pages' own name too (web_allowed_hosts).
    settings = settings.model_copy(update={"web_host": host or settings.web_host})
    uvicorn.run(
        create_app(settings),
        host=settings.web_host,
        port=port or settings.web_port,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
