"""The lines `ltv run` prints while it is up: one per event a seller cares about.

Dagster's own logs (webserver, daemon, every step) go to a file under LTV_HOME/logs/; the
terminal shows only what happened to the seller's data, read from Dagster's run storage: a file
taken from the inbox or an upload, a run that succeeded or failed, a webhook day imported.
"""

from __future__ import annotations

import datetime as dt

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_EVENTS_ASSET
from ltv_pipeline.defs.webhooks.sensor import SOURCE_TAG

FILE_TAG = "ltv/file"
PARTITION_TAG = "dagster/partition"
# Run storage keeps update times with a clock of its own process; look a little further back
# than the last poll so that no update falls between two polls (what was printed is remembered).
OVERLAP = dt.timedelta(seconds=30)
LISTED_ASSETS = 3
FINISHED = {
    DagsterRunStatus.SUCCESS: "succeeded",
    DagsterRunStatus.FAILURE: "failed",
    DagsterRunStatus.CANCELED: "canceled",
}


def _what(run: DagsterRun) -> str:
    """The run in a seller's words: its file, its webhook day, or the assets it built."""
    if FILE_TAG in run.tags:
        return run.tags[FILE_TAG]
    assets = sorted(key.to_user_string() for key in run.asset_selection or ())
    webhooks = run.tags.get(SOURCE_TAG) == "webhooks" or assets == [WEBHOOK_EVENTS_ASSET]
    if webhooks and PARTITION_TAG in run.tags:
        return f"webhook day {run.tags[PARTITION_TAG]}"
    if not assets:
        return run.job_name
    shown = ", ".join(assets[:LISTED_ASSETS])
    more = len(assets) - LISTED_ASSETS
    return f"{len(assets)} assets ({shown} and {more} more)" if more > 0 else shown


def finished_line(run: DagsterRun, dagster_url: str) -> str:
    """The line for a run that has ended."""
    what = _what(run)
    if run.status == DagsterRunStatus.SUCCESS:
        if FILE_TAG in run.tags or what.startswith("webhook day "):
            return f"{what} imported"
        return f"updated: {what}"
    return f"run {FINISHED[run.status]}: {what} (details: {dagster_url}/runs/{run.run_id})"


class RunEvents:
    """Remembers which line each run got, so every event is printed once."""

    def __init__(self, instance: DagsterInstance, dagster_url: str) -> None:
        self.instance = instance
        self.dagster_url = dagster_url
        self.started = dt.datetime.now(dt.UTC)
        self.since = self.started
        self.said: dict[str, set[str]] = {}

    def new_lines(self) -> list[str]:
        polled_at = dt.datetime.now(dt.UTC)
        records = self.instance.get_run_records(
            filters=RunsFilter(updated_after=self.since - OVERLAP),
            order_by="update_timestamp",
            ascending=True,
        )
        self.since = polled_at
        lines: list[str] = []
        for record in records:
            if record.update_timestamp < self.started:
                continue  # what happened before `ltv run` started is in the Dagster UI
            run = record.dagster_run
            said = self.said.setdefault(run.run_id, set())
            wanted = []
            if FILE_TAG in run.tags:
                wanted.append(("taken", f"file taken: {run.tags[FILE_TAG]}"))
            if run.status in FINISHED:
                wanted.append(("finished", finished_line(run, self.dagster_url)))
            for event, text in wanted:
                if event not in said:
                    said.add(event)
                    lines.append(text)
        return lines
