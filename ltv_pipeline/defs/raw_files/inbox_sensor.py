"""The file-drop sensor: files dropped in LTV_HOME/inbox/ become file partitions and runs.

A file is taken only once it is stable: unchanged in size and modification time since the
previous tick, and older than the settle time, so a copy still in progress is left alone. Files
in `inbox/<account>/` belong to that account. Each file ends in exactly one place: `archive/`
(ingested, or a duplicate of archived content) or `quarantine/` with a plain-words reason; one
that is archived but then fails while its rows are parsed gets its quarantined copy from the raw
asset (ltv_core/quarantine.py). Symbolic links are quarantined as links, never followed.
"""

import json
import time
from collections import defaultdict
from pathlib import Path

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from ltv_core.formats.profiles import FormatConfigError, FormatProfile, load_catalog
from ltv_core.quarantine import quarantine
from ltv_core.receive_file import receive_file
from ltv_core.settings import DEFAULT_ACCOUNT, SettingsError, validate_account
from ltv_pipeline.defs.raw_files.jobs import INGEST_JOBS, ingest_job_name
from ltv_pipeline.defs.raw_files.partitions import (
    already_loaded,
    file_partitions,
    unregistered_archived_files,
)
from ltv_pipeline.defs.raw_files.renamed_assets import (
    CarryingOverElsewhere,
    carry_over_renamed_assets,
)
from ltv_pipeline.defs.resources import LtvSettings

PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".error.txt")


def inbox_files(inbox: Path) -> list[Path]:
    """Candidate files: top level (default account) and one level of account folders.

    Symbolic links are never followed (see `inbox_links`): an ingested file is deleted from the
    inbox, and through a link that would delete the user's own file somewhere else.
    """
    found: list[Path] = []
    if not inbox.exists():
        return found
    for entry in sorted(inbox.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_dir():
            found += [
                child
                for child in sorted(entry.iterdir())
                if child.is_file()
                and not child.is_symlink()
                and not child.name.startswith(".")
                and not child.name.endswith(PARTIAL_SUFFIXES)
            ]
        elif entry.is_file() and not entry.name.endswith(PARTIAL_SUFFIXES):
            found.append(entry)
    return found


def inbox_links(inbox: Path) -> list[Path]:
    """Symbolic links in the inbox or in its account folders: refused, never followed."""
    if not inbox.exists():
        return []
    found: list[Path] = []
    for entry in sorted(inbox.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            found.append(entry)
        elif entry.is_dir():
            found += [
                child
                for child in sorted(entry.iterdir())
                if child.is_symlink() and not child.name.startswith(".")
            ]
    return found


def _refuse_link(link: Path, inbox: Path, quarantine_dir: Path) -> Path:
    what = "folder" if link.is_dir() else "file"
    reason = (
        f"it is a symbolic link to a {what} elsewhere ({link.readlink()}), which the inbox "
        "never follows: an imported file is deleted from the inbox, and through a link that "
        f"would delete your own {what}. Copy or move the {what} itself into the inbox."
    )
    return quarantine(link, _account_quarantine(link, inbox, quarantine_dir), reason)


def _account_quarantine(path: Path, inbox: Path, quarantine_dir: Path) -> Path:
    account = path.parent.name if path.parent != inbox else DEFAULT_ACCOUNT
    try:
        return quarantine_dir / validate_account(account)
    except SettingsError:
        return quarantine_dir


def _run_request(profile: FormatProfile, key: str, file_name: str) -> RunRequest:
    return RunRequest(
        run_key=key,
        job_name=ingest_job_name(profile),
        partition_key=key,
        tags={"ltv/file": file_name[:200], "ltv/format": profile.name},
    )


@sensor(
    name="inbox_sensor",
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    jobs=INGEST_JOBS,
    description="Ingests every stable file dropped in LTV_HOME/inbox/ (or inbox/<account>/).",
)
def inbox_sensor(context: SensorEvaluationContext, ltv_settings: LtvSettings) -> SensorResult:
    settings = ltv_settings.settings
    settings.ensure_layout()
    try:
        catalog = load_catalog(settings.formats_config_path)
    except FormatConfigError as exc:
        context.log.error(f"formats.toml is invalid, inbox paused: {exc}")
        return SensorResult(skip_reason=f"formats.toml is invalid: {exc}")
    try:
        carry_over_renamed_assets(
            context.instance, catalog, settings.parse_failures_dir, context.log.info, wait=False
        )
    except CarryingOverElsewhere as exc:  # till then, files not carried yet look never loaded
        return SensorResult(skip_reason=str(exc))
    previous = json.loads(context.cursor).get("seen", {}) if context.cursor else {}
    seen: dict[str, list[int]] = {}
    run_requests: list[RunRequest] = []
    new_keys: dict[str, list[str]] = defaultdict(list)
    loaded = already_loaded(context.instance)
    now = time.time()
    inbox = settings.inbox_dir

    for link in inbox_links(inbox):
        context.log.warning(f"{link.relative_to(inbox)}: a symbolic link, quarantined unfollowed")
        _refuse_link(link, inbox, settings.quarantine_dir)

    for path in inbox_files(inbox):
        relative = path.relative_to(inbox).as_posix()
        stat = path.stat()
        signature = [stat.st_size, stat.st_mtime_ns]
        if (
            previous.get(relative) != signature
            or now - stat.st_mtime < settings.inbox_settle_seconds
        ):
            seen[relative] = signature
            continue
        account = path.parent.name if path.parent != inbox else DEFAULT_ACCOUNT
        try:
            validate_account(account)
        except SettingsError as exc:
            quarantine(path, settings.quarantine_dir, f"the inbox folder name is not usable: {exc}")
            continue
        reception = receive_file(
            path,
            file_name=relative,
            account=account,
            format_name=None,
            catalog=catalog,
            archive_dir=settings.archive_dir,
            results_dir=settings.results_dir,
            already_loaded=loaded,
        )
        if reception.outcome == "failed":
            quarantine(path, settings.quarantine_dir / account, reception.error or "unknown")
            context.log.warning(f"{relative}: quarantined: {reception.error}")
            continue
        # Archived (or already archived with the same content): the inbox copy has done its job.
        path.unlink()
        if reception.outcome == "duplicate":
            context.log.info(f"{relative}: same content already ingested, nothing to do")
            continue
        profile = reception.profile
        key = reception.partition_key
        assert profile is not None and key is not None
        if key not in new_keys[profile.asset]:
            new_keys[profile.asset].append(key)
            run_requests.append(_run_request(profile, key, relative))

    # Anything archived whose partition never got registered (a tick that died half-way) is
    # requested again here; run keys make this a no-op for work already requested.
    for profile, key, arrival in unregistered_archived_files(
        context.instance, catalog, settings.archive_dir
    ):
        if key in new_keys[profile.asset]:
            continue
        new_keys[profile.asset].append(key)
        run_requests.append(_run_request(profile, key, arrival.file_name))

    catalog_by_asset = {p.asset: p for p in catalog.profiles.values()}
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[
            AddDynamicPartitionsRequest(file_partitions(catalog_by_asset[asset]).name, keys)
            for asset, keys in new_keys.items()
            if keys
        ],
        cursor=json.dumps({"seen": seen}),
    )
