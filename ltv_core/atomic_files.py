"""Files that readers see whole or not at all: written aside, synced, then renamed into place."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = "."
TEMP_MARK = ".tmp-"
# A temporary file younger than this is left alone even when unlocked: its writer may be
# between creating it and locking it.
ABANDONED_AFTER_SECONDS = 10.0


def write_atomically(
    target: Path,
    write: Callable[[BinaryIO], object],
    check: Callable[[Path], object] | None = None,
) -> Path:
    """Call `write` on a temporary file beside `target`, fsync it, and rename it over `target`.

    A reader (the sensor, a page, a run) never sees a half-written file, and concurrent writers
    never share a temporary name. `check`, given the finished temporary file, can refuse it by
    raising: then nothing is renamed and the temporary file is removed. The writer holds a lock
    on the temporary file while it works, so that a process killed mid-write (whose lock the
    kernel drops) can be told from one still writing: see `remove_abandoned_temp_files`.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f"{TEMP_PREFIX}{target.name}{TEMP_MARK}"
    )
    try:
        with os.fdopen(handle, "wb") as out:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX)
            write(out)
            out.flush()
            os.fsync(out.fileno())
            if check is not None:
                check(Path(temp_name))
            os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def remove_abandoned_temp_files(folder: Path) -> list[Path]:
    """Remove what writers killed mid-write left in `folder` (a killed archive copy leaves a
    hidden file as large as the export): temporary files nobody holds locked any more."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    with os.scandir(folder) as entries:
        for entry in entries:
            if not (entry.name.startswith(TEMP_PREFIX) and TEMP_MARK in entry.name):
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime < ABANDONED_AFTER_SECONDS:
                    continue
                with open(entry.path, "rb") as probe:
                    fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    os.unlink(entry.path)  # unlinked while locked: no writer can claim it now
            except (BlockingIOError, FileNotFoundError):
                continue  # still being written, or already gone
            removed.append(Path(entry.path))
    return removed
