"""Files that readers see whole or not at all: written aside, synced, then renamed into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(
    target: Path,
    write: Callable[[BinaryIO], object],
    check: Callable[[Path], object] | None = None,
) -> Path:
    """Call `write` on a temporary file beside `target`, fsync it, and rename it over `target`.

    A reader (the sensor, a page, a run) never sees a half-written file, and concurrent writers
    never share a temporary name. `check`, given the finished temporary file, can refuse it by
    raising: then nothing is renamed and the temporary file is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    try:
        with os.fdopen(handle, "wb") as out:
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
