"""`ltv import`: the inbox sensor's path, run synchronously for files named on the command line."""

from __future__ import annotations

import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from ltv_core.disk_full import disk_full
from ltv_core.file_results import FileResult, read_result, write_result
from ltv_core.formats.profiles import FormatConfigError, load_catalog
from ltv_core.receive_file import receive_file
from ltv_core.settings import Settings, validate_account
from ltv_pipeline.defs.raw_files.partitions import already_loaded, file_partitions
from ltv_pipeline.defs.raw_files.renamed_assets import carry_over_renamed_assets
from ltv_pipeline.lib.run_owners import fail_orphaned_runs


def _describe(result: FileResult) -> str:
    if result.status == "failed":
        return f"{result.file}: failed: {result.error}"
    text = (
        f"{result.file}: {result.status} as {result.format}: {result.rows} rows accepted, "
        f"{result.rejected} rejected"
    )
    return "\n  ".join([text, *result.first_rejects])


class DagsterUnavailable(RuntimeError):
    """Dagster's instance (run history, partitions) cannot be opened, so nothing can be loaded."""


def open_dagster(settings: Settings) -> DagsterInstance:
    """Dagster's instance, with the pipeline's definitions imported: about two seconds of
    start-up, spent while the first file is hashed and archived (which release the GIL).

    Runs left unfinished by a killed `ltv` process are marked failed first, so that the
    daemon's queue (one run at a time) does not wait behind them for ever; a raw asset's records
    under a former name are carried over to its current one (renamed_assets.py)."""
    import ltv_pipeline.cli.materializing  # noqa: F401  (imported here, not at start-up)

    try:
        instance = DagsterInstance.get()
    except Exception as exc:
        home = os.environ.get("DAGSTER_HOME", "DAGSTER_HOME")
        full = disk_full(exc, Path(home))
        if full is not None:
            raise full from exc
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DagsterUnavailable(
            f"Dagster's instance in {home} cannot be opened ({first_line}); check its "
            "dagster.yaml. Files already received stay archived and load once it opens."
        ) from exc
    for notice in fail_orphaned_runs(instance, settings.run_owners_dir):
        print(f"ltv: {notice}; marked it failed", file=sys.stderr, flush=True)
    carry_over_renamed_assets(
        instance,
        load_catalog(),
        settings.parse_failures_dir,
        lambda notice: print(f"ltv: {notice}", file=sys.stderr, flush=True),
    )
    return instance


def import_one(
    path: Path,
    shown_name: str,
    settings: Settings,
    opening: Future[DagsterInstance],
    *,
    format_name: str | None,
    account: str,
) -> FileResult:
    """`opening` yields Dagster's instance (see `open_dagster`); it is first needed after the
    file is hashed and archived."""
    if not path.is_file():
        return FileResult.failed(shown_name, "no such file", account=account, format=format_name)
    reception = receive_file(
        path,
        file_name=shown_name,
        account=account,
        format_name=format_name,
        catalog=load_catalog(settings.formats_config_path),
        archive_dir=settings.archive_dir,
        results_dir=settings.results_dir,
        already_loaded=lambda profile, key: already_loaded(opening.result())(profile, key),
    )
    error = reception.error
    if reception.outcome == "new":
        from ltv_pipeline.cli.materializing import materialize_one

        instance = opening.result()
        profile = reception.profile
        key = reception.partition_key
        assert profile is not None and key is not None
        instance.add_dynamic_partitions(file_partitions(profile).name, [key])
        error = materialize_one(instance, AssetKey(profile.asset), key).error
    # Whatever happened was written to results/<hash>.json by the code that did it.
    stored = read_result(settings.results_dir, reception.sha256) if reception.sha256 else None
    if stored is not None:
        stored.file = shown_name
        return stored
    return FileResult.failed(
        shown_name, error, account=account, format=format_name, sha256=reception.sha256
    )


def import_files(
    paths: list[Path],
    shown: list[str],
    settings: Settings,
    *,
    format_name: str | None,
    account: str,
    as_json: bool,
) -> int:
    validate_account(account)
    any_failed = False
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dagster-instance") as pool:
        opening = pool.submit(open_dagster, settings)
        for path, name in zip(paths, shown, strict=True):
            try:
                result = import_one(
                    path, name, settings, opening, format_name=format_name, account=account
                )
            except FormatConfigError as exc:
                result = FileResult.failed(name, str(exc), account=account, format=format_name)
                write_result(settings.results_dir, result)
            except DagsterUnavailable as exc:
                print(f"ltv import: {exc}", file=sys.stderr)
                return 1
            any_failed |= result.status == "failed"
            print(result.line() if as_json else _describe(result), flush=True)
    if any_failed and not as_json:
        print("some files failed; nothing already stored was changed", file=sys.stderr)
    return 1 if any_failed else 0
