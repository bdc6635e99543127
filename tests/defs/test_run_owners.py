"""Run owners: a run is marked failed once the process that ran it is gone, and never before."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.events import EngineEventData

from ltv_pipeline.lib.run_owners import OWNER_HOST_TAG, fail_orphaned_runs, worker_is_gone

HOLD_OWNERSHIP = (
    "import json, sys, time; from pathlib import Path;"
    "from ltv_pipeline.lib.run_owners import owner_tags;"
    "print(json.dumps(owner_tags(Path(sys.argv[1]))), flush=True); time.sleep(600)"
)


def _status(instance: DagsterInstance, run: DagsterRun) -> DagsterRunStatus:
    stored = instance.get_run_by_id(run.run_id)
    assert stored is not None
    return stored.status


def test_a_run_is_failed_once_its_owner_is_killed_and_only_then(tmp_path: Path):
    locks = tmp_path / "run_owners"
    owner = subprocess.Popen(
        [sys.executable, "-c", HOLD_OWNERSHIP, str(locks)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        tags = json.loads(owner.stdout.readline())
        (tmp_path / "dagster").mkdir()
        with DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
            owned = instance.add_run(
                DagsterRun(job_name="ingest", status=DagsterRunStatus.STARTED, tags=tags)
            )
            elsewhere = instance.add_run(
                DagsterRun(
                    job_name="ingest",
                    status=DagsterRunStatus.STARTED,
                    tags={**tags, OWNER_HOST_TAG: "another-machine"},
                )
            )
            launched = instance.add_run(
                DagsterRun(job_name="ingest", status=DagsterRunStatus.STARTED)
            )

            assert fail_orphaned_runs(instance, locks) == []
            assert _status(instance, owned) == DagsterRunStatus.STARTED

            owner.kill()
            owner.wait()
            notices = fail_orphaned_runs(instance, locks)
            assert notices == [
                f"run {owned.run_id} (ingest) was left unfinished: process {owner.pid} that "
                "ran it is gone (killed?)"
            ]
            assert _status(instance, owned) == DagsterRunStatus.FAILURE
            # Not ours to judge: another machine's process, a run the daemon launched.
            assert _status(instance, elsewhere) == DagsterRunStatus.STARTED
            assert _status(instance, launched) == DagsterRunStatus.STARTED
            assert not list(locks.glob("*.lock")), "the dead owner's lock file is swept"
            assert fail_orphaned_runs(instance, locks) == []
    finally:
        owner.kill()
        owner.wait()


def test_a_worker_is_gone_once_killed_or_when_its_pid_started_after_the_event():
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        recorded_at = time.time()
        assert not worker_is_gone(worker.pid, recorded_at)
        # Alive, but started a minute after the event: the pid was reused, the worker is gone.
        assert worker_is_gone(worker.pid, recorded_at - 60)
    finally:
        worker.kill()
        worker.wait()
    assert worker_is_gone(worker.pid, recorded_at)


def test_a_launched_run_is_failed_once_its_worker_is_killed_and_only_then(tmp_path: Path):
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (tmp_path / "dagster").mkdir()
        with DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
            launched = instance.add_run(
                DagsterRun(job_name="ingest", status=DagsterRunStatus.STARTED)
            )
            instance.report_engine_event(
                f"Started process for run (pid: {worker.pid}).",
                launched,
                EngineEventData.in_process(worker.pid),
            )
            not_yet = instance.add_run(
                DagsterRun(job_name="ingest", status=DagsterRunStatus.STARTING)
            )
            locks = tmp_path / "run_owners"
            assert fail_orphaned_runs(instance, locks) == []
            assert _status(instance, launched) == DagsterRunStatus.STARTED

            worker.kill()
            worker.wait()
            assert fail_orphaned_runs(instance, locks) == [
                f"run {launched.run_id} (ingest) was left unfinished: its run worker process "
                f"(pid {worker.pid}) is gone (killed, or a restart?)"
            ]
            assert _status(instance, launched) == DagsterRunStatus.FAILURE
            # No worker recorded yet: Dagster's run monitoring start timeout judges it.
            assert _status(instance, not_yet) == DagsterRunStatus.STARTING
    finally:
        worker.kill()
        worker.wait()
