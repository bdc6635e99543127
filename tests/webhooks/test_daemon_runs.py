"""Run overhead under the real daemon: a day of webhook deliveries is taken in by two runs (the
day's raw partition, then the model, the marts and the published reports together), and each run
executes its steps in its own process instead of starting a process per step."""

from __future__ import annotations

import time

import httpx
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from ltv_core.webhook_segments import Layout
from ltv_pipeline.defs.predictions.automation import PREDICTIONS_GROUP
from ltv_pipeline.defs.webhooks.sensor import SOURCE_TAG
from tests.model.dagster_runs import build_model_and_marts, import_csv
from tests.support import ORDERS_SAMPLE, dagster_daemon
from tests.webhooks.sidecar import Sidecar, event_body

IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
PUBLISHED = AssetKey("published_reports")
TIMEOUT_SECONDS = 400
# Past two ticks of the automation sensor (10 s apart): a run it would still ask for is counted.
QUIET_SECONDS = 25


def _published_id(instance: DagsterInstance) -> int:
    records = instance.get_asset_records([PUBLISHED])
    return (records[0].asset_entry.last_materialization_storage_id or 0) if records else 0


def _land_one_delivery(home) -> None:
    sidecar = Sidecar(home, seal_seconds=0.5)
    sidecar.start()
    try:
        assert httpx.post(sidecar.url(), content=event_body(7)).status_code == 200
        deadline = time.monotonic() + 60
        while not Layout(home / "webhooks").sealed_segments():
            assert time.monotonic() < deadline, "the sidecar sealed nothing"
            time.sleep(0.2)
    finally:
        sidecar.stop()


@pytest.mark.slow
def test_one_webhook_day_is_two_runs_each_in_one_process(ltv_home):
    with DagsterInstance.get() as instance:
        import_csv(ltv_home, instance, ORDERS_SAMPLE)
        build_model_and_marts(instance)
        # The daily predictions too: a home that never fitted them does so once, on its first
        # tick, and that run is no delivery's.
        build_model_and_marts(instance, groups=(PREDICTIONS_GROUP,))
        built = {run.run_id for run in instance.get_runs()}
        published = _published_id(instance)
        _land_one_delivery(ltv_home.home)
        log = ltv_home.home / "daemon.log"
        with dagster_daemon(ltv_home.home) as daemon:
            deadline = time.monotonic() + TIMEOUT_SECONDS
            quiet_since = None
            while quiet_since is None or time.monotonic() - quiet_since < QUIET_SECONDS:
                assert daemon.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, (
                    "not published in time:\n" + log.read_text()[-3000:]
                )
                done = _published_id(instance) != published
                busy = instance.get_runs(RunsFilter(statuses=IN_FLIGHT))
                if not done or busy:
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = time.monotonic()
                time.sleep(1)
        runs = [run for run in instance.get_runs() if run.run_id not in built]
        described = [(run.job_name, run.tags, run.asset_selection) for run in runs]
        assert len(runs) <= 2, described
        assert all(run.status == DagsterRunStatus.SUCCESS for run in runs), described
        assert any(run.tags.get(SOURCE_TAG) == "webhooks" for run in runs), described
        for run in runs:
            step_processes = instance.all_logs(
                run.run_id, of_type=DagsterEventType.STEP_WORKER_STARTED
            )
            assert not step_processes, f"run {run.run_id} started a process per step"
