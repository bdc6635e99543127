"""Run owners: a run is marked failed once the process that ran it is gone, and never before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from ltv_pipeline.lib.run_owners import OWNER_HOST_TAG, fail_orphaned_runs

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
