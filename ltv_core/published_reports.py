"""The published report snapshot: the one file the report page reads, and its shape.

DuckDB lets no other process open the warehouse while the pipeline writes to it, so the web page
never reads the warehouse. Instead, a step of the pipeline (the `published_reports` asset, run
after the marts) writes every report the page offers, in each variant it can switch between
(net/gross, month/week; all accounts together and, for an agency, each SamCart account on its
own), as ONE JSON file, replaced atomically. A reader sees the previous snapshot or the new one,
never a mix. The pipeline writes it (ltv_pipeline/reports/publish.py); the pages read it.
`left_out` lists the raw partitions the numbers are without (each {asset, partition, reason,
since}): those whose contract check failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ltv_core.atomic_files import write_atomically

PUBLISHED_FILE = "reports.json"
SCHEMA_VERSION = 1
# The switches the page offers; each is also a choice of `ltv report` (metrics/definitions.py).
BASES = ("net", "gross")
PERIODS = ("month", "week")


@dataclass(frozen=True)
class Variant:
    """One table the page can show: a report, and the switches that change its numbers."""

    report: str
    basis: str | None = None  # None: the report has no net/gross choice
    period: str | None = None  # None: the report has no cohort period

    @property
    def key(self) -> str:
        return variant_key(self.report, self.basis, self.period)


def variant_key(report: str, basis: str | None, period: str | None) -> str:
    return "/".join([report, basis or "-", period or "-"])


VARIANTS: tuple[Variant, ...] = (
    *(Variant("cohort-ltv", b, p) for b in BASES for p in PERIODS),
    *(Variant("front-end-products", b) for b in BASES),
    Variant("payment-plans"),
    Variant("subscriptions"),
    *(Variant("refunds", period=p) for p in PERIODS),
    Variant("purchase-intervals"),
)


def published_path(published_dir: Path) -> Path:
    return published_dir / PUBLISHED_FILE


def write_published(published_dir: Path, payload: dict[str, Any]) -> Path:
    """Write the snapshot next to its final name, fsync, then rename over the old one."""
    published_dir.mkdir(parents=True, exist_ok=True)
    target = published_path(published_dir)
    document = {
        "schema": SCHEMA_VERSION,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **payload,
    }
    text = json.dumps(document, ensure_ascii=False)
    write_atomically(target, lambda out: out.write(text.encode()))
    return target


def read_published(published_dir: Path) -> dict[str, Any] | None:
    """The latest snapshot, or None when the pipeline has published nothing yet."""
    path = published_path(published_dir)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    if document.get("schema") != SCHEMA_VERSION:
        return None
    return document
