"""What happens to an uploaded file after it is on disk, and how the page learns its outcome.

"Detect automatically" hands the file to the inbox exactly like a file a user drops there: it is
renamed (atomically, complete) into inbox/ or inbox/<account>/, and the inbox sensor takes it.
A chosen format must reach the pipeline, and the sensor detects formats from the header, so a file
with a chosen format is received here with `receive_file` (the same function the sensor and
`ltv import` call): archived with that format, after which the sensor's archive sweep registers the
partition and requests the run. Either way the pipeline writes results/<sha256>.json, which the
page shows.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from ltv_core.atomic_files import write_atomically
from ltv_core.file_results import FileResult, read_result, result_path
from ltv_core.formats.profiles import load_catalog
from ltv_core.quarantine import quarantine
from ltv_core.receive_file import loaded_according_to_home, receive_file
from ltv_core.settings import DEFAULT_ACCOUNT, Settings, SettingsError, validate_account
from ltv_web.upload_stream import StreamedUpload, UploadRejected

DETECT = "detect"
UPLOAD_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")
# Held while an upload is checked for duplicates and handed over (see accept_upload).
_ACCEPTING = threading.Lock()


@dataclass
class UploadRecord:
    """One upload, kept in LTV_HOME/uploads/<id>.json so its page survives a restart."""

    id: str
    client_name: str  # for display only; never used as a path
    stored_name: str
    account: str
    format_choice: str
    sha256: str
    size: int
    received_at: float  # epoch seconds; a result written before this is an older upload's
    # The id of the earlier upload of the same content (same account and format choice) that
    # this one repeats; such an upload is never handed to the pipeline.
    duplicate_of: str | None = None


def new_upload_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def display_name(client_name: str) -> str:
    """The last path component of what the browser sent, printable, at most 120 characters."""
    base = re.split(r"[\\/]", client_name)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:120] or "upload.csv"


def stored_name(upload_id: str, client_name: str) -> str:
    """A name we generate: id plus a safe slug of the client's name, so logs stay readable."""
    stem = Path(display_name(client_name)).stem
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[:60] or "upload"
    return f"{upload_id}-{slug}.csv"


def temp_upload_path(settings: Settings, upload_id: str) -> Path:
    """Where the bytes stream to: a hidden partial file the inbox sensor never looks at."""
    folder = settings.uploads_dir / ".incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".{upload_id}.part"


def check_choices(settings: Settings, fields: dict[str, str]) -> tuple[str, str]:
    """The (format, account) the form asked for, or a precise refusal."""
    format_choice = fields.get("format") or DETECT
    profiles = load_catalog(settings.formats_config_path).profiles
    if format_choice != DETECT and format_choice not in profiles:
        raise UploadRejected(
            400,
            f"unknown format {format_choice!r}: expected {DETECT!r} or one of "
            f"{', '.join(sorted(profiles))}",
        )
    account = fields.get("account") or DEFAULT_ACCOUNT
    try:
        validate_account(account)
    except SettingsError as exc:
        raise UploadRejected(400, str(exc)) from None
    return format_choice, account


def _inbox_folder(settings: Settings, account: str) -> Path:
    folder = settings.inbox_dir if account == DEFAULT_ACCOUNT else settings.inbox_dir / account
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _receive_with_format(settings: Settings, path: Path, name: str, record: UploadRecord) -> None:
    """Archive with the chosen format (the sensor then requests the run), or quarantine.

    The page asks no Dagster record whether the content was loaded before (see
    `loaded_according_to_home`)."""
    # Asked before this arrival is archived, so that it does not count as an earlier one.
    already_loaded = loaded_according_to_home(settings, record.sha256)
    reception = receive_file(
        path,
        file_name=name,
        account=record.account,
        format_name=record.format_choice,
        catalog=load_catalog(settings.formats_config_path),
        archive_dir=settings.archive_dir,
        results_dir=settings.results_dir,
        already_loaded=already_loaded,
    )
    if reception.outcome == "failed":
        quarantine(path, settings.quarantine_dir / record.account, reception.error or "unknown")
    else:
        path.unlink(missing_ok=True)


def _all_records(settings: Settings) -> list[UploadRecord]:
    """Every upload ever recorded, oldest first."""
    if not settings.uploads_dir.exists():
        return []
    names = sorted(p.stem for p in settings.uploads_dir.glob("*.json") if UPLOAD_ID.match(p.stem))
    return [r for r in (load_record(settings, n) for n in names) if r is not None]


def earlier_upload(settings: Settings, record: UploadRecord) -> UploadRecord | None:
    """The first upload of the same content, account and format choice, unless it failed.

    The pipeline's own duplicate check answers only once the first copy is loaded, and both
    uploads would read the one result kept per content; so a repeat is caught here, at upload.
    """
    for earlier in _all_records(settings):
        if (
            earlier.duplicate_of is None
            and (earlier.sha256, earlier.account, earlier.format_choice)
            == (record.sha256, record.account, record.format_choice)
            and outcome_of(settings, earlier).state != "failed"
        ):
            return earlier
    return None


def accept_upload(
    settings: Settings, upload_id: str, upload: StreamedUpload, format_choice: str, account: str
) -> UploadRecord:
    """Hand the complete file to the pipeline and keep a record for its status page.

    One upload at a time (the pages run this in worker threads), so two uploads of the same file
    cannot both pass the duplicate check: the second sees the first's record.
    """
    with _ACCEPTING:
        name = stored_name(upload_id, upload.client_name)
        record = UploadRecord(
            id=upload_id,
            client_name=display_name(upload.client_name),
            stored_name=name,
            account=account,
            format_choice=format_choice,
            sha256=upload.sha256,
            size=upload.size,
            received_at=time.time(),
        )
        first = earlier_upload(settings, record)
        if first is not None:
            record.duplicate_of = first.id
            upload.temp_path.unlink(missing_ok=True)
        elif format_choice == DETECT:
            os.replace(upload.temp_path, _inbox_folder(settings, account) / name)
        else:
            relative = name if account == DEFAULT_ACCOUNT else f"{account}/{name}"
            # Named like the inbox copy would be, so a quarantined file is recognisable.
            named = upload.temp_path.with_name(name)
            os.replace(upload.temp_path, named)
            _receive_with_format(settings, named, relative, record)
        save_record(settings, record)
    return record


def save_record(settings: Settings, record: UploadRecord) -> None:
    text = json.dumps(asdict(record), indent=2)
    write_atomically(
        settings.uploads_dir / f"{record.id}.json", lambda out: out.write(text.encode())
    )


def load_record(settings: Settings, upload_id: str) -> UploadRecord | None:
    if not UPLOAD_ID.match(upload_id):
        return None
    path = settings.uploads_dir / f"{upload_id}.json"
    if not path.exists():
        return None
    return UploadRecord(**json.loads(path.read_text()))


def recent_records(settings: Settings, limit: int = 20) -> list[UploadRecord]:
    if not settings.uploads_dir.exists():
        return []
    names = sorted(
        (p.stem for p in settings.uploads_dir.glob("*.json") if UPLOAD_ID.match(p.stem)),
        reverse=True,
    )
    return [r for r in (load_record(settings, n) for n in names[:limit]) if r is not None]


PENDING_STATES = ("waiting", "ingesting")


@dataclass(frozen=True)
class Outcome:
    """Where an upload stands: `waiting`, `ingesting`, `duplicate` of an earlier upload (`first`),
    or the pipeline's result."""

    state: str
    result: FileResult | None = None
    first: UploadRecord | None = None


def outcome_of(settings: Settings, record: UploadRecord) -> Outcome:
    if record.duplicate_of is not None:
        return Outcome("duplicate", first=load_record(settings, record.duplicate_of))
    path = result_path(settings.results_dir, record.sha256)
    try:
        written = path.stat().st_mtime
    except FileNotFoundError:
        written = None
    # A result older than this upload belongs to an earlier upload of the same content; the
    # pipeline rewrites it (as a duplicate, say) once it has looked at this one.
    if written is not None and written >= record.received_at - 1:
        result = read_result(settings.results_dir, record.sha256)
        if result is not None:
            return Outcome(result.status, result)
    folder = _inbox_folder(settings, record.account)
    if (folder / record.stored_name).exists():
        return Outcome("waiting")
    return Outcome("ingesting")
