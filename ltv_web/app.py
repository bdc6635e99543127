"""The FastAPI app: upload page, upload status, report page, settings (webhook URL).

Pages are plain server-rendered HTML forms and tables, so they work without JavaScript and with
the keyboard alone; the only script is the progressive "Copy" button.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from ltv_core.csv_output import write_csv
from ltv_core.formats.profiles import load_catalog
from ltv_core.published_reports import VARIANTS, read_published
from ltv_core.settings import DEFAULT_ACCOUNT, Settings
from ltv_core.webhook_tokens import notify_url
from ltv_web.report_view import DEFINITIONS, HEADLINE_FIGURES, build_report_page
from ltv_web.upload_stream import StreamedUpload, UploadRejected, stream_upload
from ltv_web.uploads import (
    DETECT,
    PENDING_STATES,
    accept_upload,
    check_choices,
    load_record,
    new_upload_id,
    outcome_of,
    recent_records,
    temp_upload_path,
)

TEMPLATES = Path(__file__).parent / "templates"
PENDING_REFRESH_SECONDS = 2


def _when(iso: str | None) -> str:
    """An ISO time the pipeline wrote (UTC) as a reader writes it: 2026-12-06 19:02 UTC."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.filters["when"] = _when
    env.filters["mib"] = lambda n: (
        f"{n / 1024 / 1024:,.0f} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"
    )
    return env


async def app_settings(request: Request) -> Settings:
    """The settings the routes run with: those `create_app` was given, unless a test overrides
    this dependency (`app.dependency_overrides[app_settings] = lambda: other`)."""
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(app_settings)]


def _formats(settings: Settings) -> list[tuple[str, str]]:
    catalog = load_catalog(settings.formats_config_path)
    return [(DETECT, "Detect automatically")] + [
        (name, profile.label) for name, profile in sorted(catalog.profiles.items())
    ]


def create_app(settings: Settings) -> FastAPI:
    settings.ensure_layout()
    env = _environment()
    app = FastAPI(title="LTV pages", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings

    def page(
        name: str, settings: Settings, status_code: int = 200, **context: object
    ) -> HTMLResponse:
        html = env.get_template(name).render(settings=settings, **context)
        return HTMLResponse(html, status_code=status_code)

    @app.middleware("http")
    async def same_origin_posts(request: Request, call_next):
        # A page on another site must not be able to post files into the inbox (the listener is
        # on loopback, but the user's browser is not).
        if request.method == "POST":
            origin = request.headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
                return PlainTextResponse("cross-site form posts are refused", status_code=403)
        return await call_next(request)

    @app.get("/", include_in_schema=False)
    def home(settings: AppSettings) -> RedirectResponse:
        # Step 1 (Settings: the webhook URL, so no sale falls in a gap) until data has arrived.
        has_data = read_published(settings.published_dir) is not None or recent_records(settings)
        return RedirectResponse("/report" if has_data else "/settings", status_code=303)

    @app.get("/healthz")
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/upload", response_class=HTMLResponse)
    def upload_form(settings: AppSettings) -> HTMLResponse:
        records = [(r, outcome_of(settings, r)) for r in recent_records(settings)]
        return page(
            "upload.html",
            settings,
            formats=_formats(settings),
            records=records,
            error=None,
            max_bytes=settings.web_max_upload_bytes,
            active="upload",
        )

    def refused(settings: Settings, exc: UploadRejected) -> HTMLResponse:
        records = [(r, outcome_of(settings, r)) for r in recent_records(settings)]
        return page(
            "upload.html",
            settings,
            status_code=exc.status_code,
            formats=_formats(settings),
            records=records,
            error=exc.message,
            max_bytes=settings.web_max_upload_bytes,
            active="upload",
        )

    def accept(settings: Settings, upload_id: str, streamed: StreamedUpload) -> Response:
        try:
            format_choice, account = check_choices(settings, streamed.fields)
        except UploadRejected as exc:
            streamed.temp_path.unlink(missing_ok=True)
            return refused(settings, exc)
        record = accept_upload(settings, upload_id, streamed, format_choice, account)
        return RedirectResponse(f"/uploads/{record.id}", status_code=303)

    @app.post("/upload")
    async def upload(request: Request, settings: AppSettings) -> Response:
        # Everything but receiving the body is file work (the formats file, the records, the
        # hash and copy into the archive): it runs in worker threads, so a large or slow upload
        # never stops the other pages from answering. stream_upload writes in threads too.
        upload_id = new_upload_id()
        temp = await run_in_threadpool(temp_upload_path, settings, upload_id)
        try:
            streamed = await stream_upload(
                request.headers.get("content-type"),
                request.headers.get("content-length"),
                request.stream(),
                temp,
                settings.web_max_upload_bytes,
            )
        except UploadRejected as exc:
            return await run_in_threadpool(refused, settings, exc)
        return await run_in_threadpool(accept, settings, upload_id, streamed)

    @app.get("/uploads/{upload_id}", response_class=HTMLResponse)
    def upload_status(upload_id: str, settings: AppSettings) -> HTMLResponse:
        record = load_record(settings, upload_id)
        if record is None:
            return page("not_found.html", settings, status_code=404, what="upload", active="upload")
        outcome = outcome_of(settings, record)
        pending = outcome.state in PENDING_STATES
        return page(
            "upload_status.html",
            settings,
            record=record,
            outcome=outcome,
            refresh=PENDING_REFRESH_SECONDS if pending else None,
            format_labels=dict(_formats(settings)),
            active="upload",
        )

    @app.get("/report", response_class=HTMLResponse)
    def report(
        settings: AppSettings,
        basis: str = "net",
        period: str = "month",
        account: str = "",
        cohorts: str = "",
        projected: str = "",
    ) -> HTMLResponse:
        view = build_report_page(
            settings.published_dir,
            basis,
            period,
            account or None,
            currency=settings.currency,
            show_all=cohorts == "all",
            projected=projected == "1",
        )
        return page(
            "report.html",
            settings,
            view=view,
            active="report",
            figures=HEADLINE_FIGURES,
            definitions=DEFINITIONS,
            definition_texts={id_: text for id_, _, text in DEFINITIONS},
        )

    @app.get("/report.csv")
    def report_csv(settings: AppSettings, variant: str, account: str = "") -> Response:
        """One published table as `ltv report <report> --format csv` prints it (same writer)."""
        document = read_published(settings.published_dir) or {}
        reports = document.get("reports") or {}
        by_account = document.get("by_account") or {}
        if account in by_account:
            reports = by_account[account]
        else:
            account = ""  # one account (or none named so): its numbers are the overall ones
        entry = reports.get(variant)
        if entry is None or "error" in entry:
            known = variant in {v.key for v in VARIANTS}
            why = "is not published yet" if known else "is not a report table"
            return PlainTextResponse(f"{variant!r} {why}", status_code=404)
        out = io.StringIO()
        write_csv(out, entry["columns"], entry["rows"])
        name = "-".join(part for part in variant.split("/") if part != "-")
        if account:
            name += f"-{account}"
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )

    @app.get("/settings", response_class=HTMLResponse)
    def settings_page(settings: AppSettings) -> HTMLResponse:
        return page(
            "settings.html",
            settings,
            webhook_url=notify_url(settings, DEFAULT_ACCOUNT),
            active="settings",
        )

    # Added last, so it runs first: a request naming any other host (a DNS-rebound page, say)
    # gets a 400 before it reaches a page, the token on /settings included. The allowed hosts
    # are fixed when the app is created, as the listener's address is.
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=list(settings.web_allowed_hosts), www_redirect=False
    )
    return app
