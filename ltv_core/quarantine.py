"""Setting aside what the pipeline cannot use: LTV_HOME/quarantine/, each file with a note.

Two kinds of file end here. One that cannot even be received (not a CSV, no known header, an
unusable inbox folder) is moved out of the inbox. One that was received and archived but fails
while its rows are parsed gets a copy of its archived bytes here, and a record under its file
partition's key, so that the pipeline skips it from then on instead of retrying it on every run.
The archive keeps its own copy: the archive is history and is never changed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ltv_core.atomic_files import write_atomically

RETRY_ADVICE = (
    "Fix the file (or add a header alias in formats.toml) and drop it in the inbox again, "
    "or import it again with `ltv import`."
)


@dataclass(frozen=True)
class ParseFailure:
    """An archived file that failed while parsed, and where its quarantined copy is."""

    partition_key: str
    asset: str
    file_name: str
    reason: str
    copy: str  # path of the copy in quarantine/, or "" when the archived bytes were missing

    def explanation(self) -> str:
        where = f"; set aside as {self.copy}" if self.copy else ""
        return f"{self.reason}{where}"

    def describe(self) -> str:
        return f"{self.file_name}: {self.explanation()}"


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    counter = 1
    while target.exists() or target.is_symlink():
        target = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    return target


def _write_note(target: Path, name: str, reason: str) -> None:
    note = f"{name} was not imported.\n\nWhy: {reason}\n\n{RETRY_ADVICE}\n"
    target.with_name(target.name + ".error.txt").write_text(note)


def quarantine(path: Path, quarantine_dir: Path, reason: str) -> Path:
    """Move a file the pipeline cannot use aside, with a note saying why.

    A symbolic link is moved as the link itself (a rename), so what it points to is never
    touched.
    """
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(quarantine_dir, path.name)
    shutil.move(str(path), target)
    _write_note(target, path.name, reason)
    return target


def _record_path(records_dir: Path, partition_key: str) -> Path:
    return records_dir / f"{partition_key}.json"


def quarantine_archived(
    archived: Path,
    quarantine_dir: Path,
    records_dir: Path,
    *,
    partition_key: str,
    asset: str,
    file_name: str,
    reason: str,
) -> ParseFailure:
    """Set aside an archived file that failed while parsed: once per file partition.

    A second failure of the same partition (an explicit re-import of the same bytes) finds the
    record and copies nothing again.
    """
    known = parse_failure(records_dir, partition_key)
    if known is not None:
        return known
    copy = ""
    if archived.exists():
        quarantine_dir.mkdir(parents=True, exist_ok=True)
        name = Path(file_name).name or archived.name
        target = _free_name(quarantine_dir, name)
        shutil.copyfile(archived, target)
        _write_note(target, name, reason)
        copy = str(target)
    failure = ParseFailure(partition_key, asset, file_name, reason, copy)
    _write_record(records_dir, failure)
    return failure


def _write_record(records_dir: Path, failure: ParseFailure) -> None:
    text = json.dumps(asdict(failure), indent=2, ensure_ascii=False)
    path = _record_path(records_dir, failure.partition_key)
    write_atomically(path, lambda out: out.write(text.encode()))


def parse_failure(records_dir: Path, partition_key: str) -> ParseFailure | None:
    path = _record_path(records_dir, partition_key)
    if not path.exists():
        return None
    return ParseFailure(**json.loads(path.read_text()))


def parse_failures(records_dir: Path) -> list[ParseFailure]:
    """Every archived file set aside because it failed while parsed, oldest key order."""
    if not records_dir.exists():
        return []
    return [ParseFailure(**json.loads(p.read_text())) for p in sorted(records_dir.glob("*.json"))]


def rename_asset_in_records(records_dir: Path, former: str, current: str) -> None:
    """A raw asset took a new name: the records that name the former one follow."""
    for failure in parse_failures(records_dir):
        if failure.asset == former:
            _write_record(records_dir, replace(failure, asset=current))


def forget_parse_failure(records_dir: Path, partition_key: str) -> None:
    """The partition loaded after all (re-imported once its cause was fixed): skip it no more."""
    _record_path(records_dir, partition_key).unlink(missing_ok=True)
