"""Telling a full disk from a bug, so that it gets one plain line instead of a traceback.

A full disk shows up as an OSError (ENOSPC) from our own writes, as DuckDB's "IO Error ... No
space left on device", or as SQLite's bare "disk I/O error" from Dagster's run storage. The last
one does not say why, so an I/O error counts as a full disk only when the disk holding LTV_HOME
really has (almost) no room left.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

NO_ROOM = (errno.ENOSPC, errno.EDQUOT)
IO_ERROR_TEXTS = (
    "no space left on device",
    "database or disk is full",
    "disk i/o error",
    "io error",
)
# Less free space than this is no room: SQLite and DuckDB need pages, not bytes.
ALMOST_FULL_BYTES = 1024 * 1024


class DiskFull(Exception):
    """A write under LTV_HOME failed for want of space; nothing stored before was changed."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(str(path))
        self.path = str(path)

    def __str__(self) -> str:
        return (
            f"disk full: {self.path}: no space left on the disk that holds it; free some space "
            "and run the command again (nothing already stored was changed)"
        )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _has_no_room(path: Path) -> bool:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        facts = os.statvfs(existing)
    except OSError:
        return False
    return facts.f_bavail * facts.f_frsize < ALMOST_FULL_BYTES


def is_disk_full_text(text: str, home: Path) -> bool:
    """An error message (a failed Dagster step's, say) that is a write failing on a full disk."""
    lowered = text.lower()
    if "no space left on device" in lowered or "database or disk is full" in lowered:
        return True
    return any(t in lowered for t in IO_ERROR_TEXTS) and _has_no_room(home)


def disk_full(exc: BaseException, home: Path) -> DiskFull | None:
    """The DiskFull that `exc` (or what caused it) really is, naming the path when it is known."""
    for link in _chain(exc):
        if isinstance(link, DiskFull):
            return link
        if isinstance(link, OSError) and link.errno in NO_ROOM:
            return DiskFull(link.filename or home)
    if any(is_disk_full_text(str(link), home) for link in _chain(exc)):
        return DiskFull(home)
    return None
