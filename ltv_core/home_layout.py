"""The folders of LTV_HOME on disk: created on first use, private to their user, and a Dagster
home with our defaults.

`Settings` names every path; this module makes them exist. It runs at every start and every
sensor tick, so it stays cheap once done (one stat per folder, one marker file).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ltv_core.atomic_files import remove_abandoned_temp_files, write_atomically

PRIVATE_UMASK = 0o077
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700
PRIVATE_MARKER = ".private-v1"  # in LTV_HOME once make_private has walked it

DAGSTER_YAML = """\
# Written by ltv on first use; edit freely, it is not overwritten once edited.
telemetry:
  enabled: false
# One run at a time: a DuckDB file has exactly one writer process.
concurrency:
  runs:
    max_concurrent_runs: 1
# A run whose worker died (killed, a power cut) is run again, so a dropped file, archived and
# gone from the inbox, still loads. A step that failed on its data is not: it would fail again.
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
# The daemon looks at the run queue every second, not every 5 s: a queued run starts sooner.
run_queue:
  dequeue_interval_seconds: 1
# No "Join the Dagster community" window on the first visit of the UI.
nux:
  enabled: false
# Runs log their steps at INFO (Dagster's default is DEBUG: a dozen lines per step).
python_logs:
  python_log_level: INFO
"""
# Earlier defaults, word for word: a home's dagster.yaml that equals one of them was never edited,
# so it is replaced by the current default; any other text is the user's and is kept.
PREVIOUS_DAGSTER_YAMLS = (
    """\
# Written by ltv on first use; edit freely, it is not overwritten.
telemetry:
  enabled: false
# One run at a time: a DuckDB file has exactly one writer process.
concurrency:
  runs:
    max_concurrent_runs: 1
""",
    """\
# Written by ltv on first use; edit freely, it is not overwritten once edited.
telemetry:
  enabled: false
# One run at a time: a DuckDB file has exactly one writer process.
concurrency:
  runs:
    max_concurrent_runs: 1
# A run whose worker died (killed, a power cut) is run again, so a dropped file, archived and
# gone from the inbox, still loads. A step that failed on its data is not: it would fail again.
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
""",
    """\
# Written by ltv on first use; edit freely, it is not overwritten once edited.
telemetry:
  enabled: false
# One run at a time: a DuckDB file has exactly one writer process.
concurrency:
  runs:
    max_concurrent_runs: 1
# A run whose worker died (killed, a power cut) is run again, so a dropped file, archived and
# gone from the inbox, still loads. A step that failed on its data is not: it would fail again.
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
# The daemon looks at the run queue every second, not every 5 s: a queued run starts sooner.
run_queue:
  dequeue_interval_seconds: 1
""",
)


def keep_files_private() -> None:
    """Every file a process of ours creates is its user's alone (0600, folders 0700).

    LTV_HOME holds customers' emails (the warehouse, the archive, sealed webhook segments,
    Dagster's run history with mart previews) and the webhook tokens. Each entry point calls
    this first: the ltv CLI, the webhook sidecar, the pages, and Dagster's code location.
    """
    os.umask(PRIVATE_UMASK)


def make_private(home: Path) -> None:
    """Make a home created before files were kept private (or by a process that did not keep
    them so) private: every file 0600, every folder 0700, symbolic links left alone and never
    followed. A marker file written after the walk says it was done, so it runs once per home
    even when the home folder was already 0700 (and again if the home is opened up later)."""
    marker = home / PRIVATE_MARKER
    if marker.exists() and stat.S_IMODE(home.lstat().st_mode) == PRIVATE_FOLDER_MODE:
        return
    for folder, folders, files in os.walk(home):
        for name in folders:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(PRIVATE_FOLDER_MODE)
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(PRIVATE_FILE_MODE)
    home.chmod(PRIVATE_FOLDER_MODE)
    os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))


def ensure_home(
    home: Path, folders: tuple[Path, ...], swept: tuple[Path, ...], dagster_home: Path
) -> None:
    """Create the state folders and a Dagster home with telemetry off; idempotent.

    In the `swept` folders, what a killed atomic write left behind is found by name and removed.
    """
    for folder in (home, *folders, dagster_home):
        folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    make_private(home)
    for folder in (*swept, dagster_home):
        remove_abandoned_temp_files(folder)
    dagster_yaml = dagster_home / "dagster.yaml"
    if not dagster_yaml.exists() or dagster_yaml.read_text() in PREVIOUS_DAGSTER_YAMLS:
        write_atomically(dagster_yaml, lambda out: out.write(DAGSTER_YAML.encode()))
        dagster_yaml.chmod(PRIVATE_FILE_MODE)  # also when made by a process of someone else's
