"""The published report snapshot: the one file the report page reads, and its shape.

DuckDB lets no other process open the warehouse while the pipeline writes to it, so the web page
never reads the warehouse. Instead, a step of the pipeline (the `published_reports` asset, run
after the marts) writes every report the page offers, in each variant it can switch between
(net/gross, month/week; all accounts together and, for an agency, each SamCart account on its
own), as ONE JSON file, replaced atomically. A reader sees the previous snapshot or the new one,
never a mix. The pipeline writes it (ltv_pipeline/reports/publish.py); the pages read it.
`left_out` lists the raw partitions the numbers are without (each {asset, partition, reason,
since}): those whose contract check failed. A projected cohort variant (net only) carries the
projected_net_ltv_* columns of `ltv report cohort-ltv --projected` and a `projection` object:
{"method", "left_out", "fits": [{account, fitted_at, calibration_end, reliable, reason}]}, with
no fits when predictions were never fitted.
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
    projected: bool = False  # with the projected columns (`ltv report cohort-ltv --projected`)

    @property
    def key(self) -> str:
        return variant_key(self.report, self.basis, self.period, self.projected)


def variant_key(report: str, basis: str | None, period: str | None, projected: bool = False) -> str:
    return "/".join([report, basis or "-", period or "-", *(["projected"] if projected else [])])


VARIANTS: tuple[Variant, ...] = (
    Variant("overview"),
    *(Variant("cohort-ltv", b, p) for b in BASES for p in PERIODS),
    # Projections are of net LTV, so only the net cohort table has a projected twin.
    *(Variant("cohort-ltv", "net", p, projected=True) for p in PERIODS),
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


# The pipeline's state, beside the snapshot: whether the snapshot is current, and if not why. The
# page reads only this file to say that its numbers are stale, never the pipeline's run history.
STATE_FILE = "state.json"
STATE_SCHEMA = 1
BUILDING = "building"  # a model/marts/publish run has started and not finished
FAILED = "failed"  # the last rebuild failed; the snapshot is older than the data
PENDING = "pending"  # new input arrived; no rebuild has started yet
UP_TO_DATE = "up to date"  # the snapshot includes every input the model has seen
STATES = (BUILDING, FAILED, PENDING, UP_TO_DATE)


@dataclass(frozen=True)
class PipelineState:
    state: str  # one of STATES
    since: str  # ISO time (UTC) the pipeline entered this state
    error: str | None = None  # FAILED: the first line of the error
    inputs_as_of: str | None = None  # ISO time of the newest input the snapshot includes


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def first_line(message: str) -> str:
    """An error's first non-empty line: what went wrong, without the trace."""
    return next((line.strip() for line in message.splitlines() if line.strip()), "unknown error")


def state_path(published_dir: Path) -> Path:
    return published_dir / STATE_FILE


def read_state(published_dir: Path) -> PipelineState | None:
    """The pipeline's state, or None when it has written none (or in another shape)."""
    try:
        document = json.loads(state_path(published_dir).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if document.get("schema") != STATE_SCHEMA or document.get("state") not in STATES:
        return None
    return PipelineState(
        state=document["state"],
        since=document["since"],
        error=document.get("error"),
        inputs_as_of=document.get("inputs_as_of"),
    )


def write_state(published_dir: Path, state: PipelineState) -> Path:
    """Replace the state file atomically: a reader sees the old state or the new one."""
    if state.state not in STATES:
        raise ValueError(f"pipeline state {state.state!r}: expected one of {', '.join(STATES)}")
    published_dir.mkdir(parents=True, exist_ok=True)
    target = state_path(published_dir)
    text = json.dumps({"schema": STATE_SCHEMA, **state.__dict__}, ensure_ascii=False)
    write_atomically(target, lambda out: out.write(text.encode()))
    return target


def enter_state(
    published_dir: Path, state: str, *, error: str | None = None, inputs_as_of: str | None = None
) -> PipelineState:
    """Move to `state`. Building and pending keep their `since` when already in them (each
    step of one rebuild says "building"; the rebuild began with the first); a failure is dated
    when it happened. The snapshot's `inputs_as_of` is kept unless a new one is given (only
    publishing changes what the snapshot includes)."""
    current = read_state(published_dir)
    kept = current is not None and current.state == state and state in (BUILDING, PENDING)
    since = current.since if current is not None and kept else now_iso()
    kept_inputs = current.inputs_as_of if current else None
    new = PipelineState(
        state=state,
        since=since,
        error=first_line(error) if error is not None else None,
        inputs_as_of=inputs_as_of or kept_inputs,
    )
    write_state(published_dir, new)
    return new
