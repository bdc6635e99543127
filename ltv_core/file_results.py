"""The per-file outcome a user (or the upload page) reads: LTV_HOME/results/<hash>.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from ltv_core.atomic_files import write_atomically

Status = Literal["loaded", "duplicate", "failed"]


@dataclass
class FileResult:
    file: str
    format: str | None
    status: Status
    rows: int
    rejected: int
    error: str | None
    account: str = "default"
    sha256: str | None = None
    first_rejects: list[str] = field(default_factory=list)

    @classmethod
    def failed(
        cls,
        file: str,
        error: str | None,
        *,
        account: str,
        format: str | None = None,
        sha256: str | None = None,
    ) -> FileResult:
        """A file that could not be used at all: nothing of it was stored."""
        return cls(
            file=file,
            format=format,
            status="failed",
            rows=0,
            rejected=0,
            error=error or "unknown error",
            account=account,
            sha256=sha256,
        )

    def line(self) -> str:
        """The one-line JSON the CLI prints with --json."""
        return json.dumps(asdict(self), ensure_ascii=False)


def result_path(results_dir: Path, sha256: str) -> Path:
    return results_dir / f"{sha256}.json"


def write_result(results_dir: Path, result: FileResult) -> None:
    if result.sha256 is None:
        return
    results_dir.mkdir(parents=True, exist_ok=True)
    path = result_path(results_dir, result.sha256)
    text = json.dumps(asdict(result), indent=2, ensure_ascii=False)
    write_atomically(path, lambda out: out.write(text.encode()))


def read_result(results_dir: Path, sha256: str) -> FileResult | None:
    path = result_path(results_dir, sha256)
    if not path.exists():
        return None
    return FileResult(**json.loads(path.read_text()))
