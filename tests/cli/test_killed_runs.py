"""`ltv` killed with SIGKILL in the middle of a run: the run is marked failed by the next command
or by the daemon, and the run queue (one run at a time) moves again. Real processes throughout:
the killed `ltv import` waits inside its run for a warehouse another process holds, so it is
killed mid-run for certain, not after a guessed sleep."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from ltv_core.formats.csv_file import inspect_file
from ltv_core.settings import Settings
from ltv_pipeline.lib.run_owners import process_started_at
from tests.cli.test_ltv_cli import LTV, ltv
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE, dagster_daemon, warehouse_held


def _wait_for(
    condition,
    what: str,
    timeout: float,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"exited with {process.returncode} before {what}:\n{out}\n{err}")
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{tail}")


def _run_status(instance: DagsterInstance, run_id: str) -> DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def _failure_message(instance: DagsterInstance, run_id: str) -> str:
    failures = instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)
    return " | ".join(
        entry.dagster_event.message or "" for entry in failures if entry.dagster_event
    )


def _killed_mid_run(settings: Settings, instance: DagsterInstance, path: Path):
    """Start `ltv import path`, wait until its run is STARTED (held up by a held warehouse),
    SIGKILL it, then let the warehouse go; returns the killed process and its run."""
    with warehouse_held(settings.warehouse_path, seconds=900):
        importing = subprocess.Popen(
            [*LTV, "import", str(path)],
            env={**os.environ, "LTV_BUSY_TIMEOUT_SECONDS": "900"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            run: DagsterRun = _wait_for(
                lambda: next(
                    iter(
                        instance.get_runs(
                            RunsFilter(
                                statuses=[DagsterRunStatus.STARTED],
                                tags={"ltv/launched_by": "cli"},
                            )
                        )
                    ),
                    None,
                ),
                "the import's run to start",
                timeout=180,
                process=importing,
            )
        finally:
            importing.send_signal(signal.SIGKILL)
            importing.wait()
    assert importing.returncode == -signal.SIGKILL
    return importing, run


def test_the_next_command_fails_a_killed_import_run_and_loads_its_file(ltv_home):
    with DagsterInstance.get() as instance:
        killed, run = _killed_mid_run(ltv_home, instance, ORDERS_SAMPLE)
        assert _run_status(instance, run.run_id) == DagsterRunStatus.STARTED

        done = ltv("materialize")
        assert done.returncode == 0, done.stdout + done.stderr
        gone = f"process {killed.pid} that ran it is gone (killed?)"
        assert gone in done.stderr
        assert _run_status(instance, run.run_id) == DagsterRunStatus.FAILURE
        assert gone in _failure_message(instance, run.run_id)
    # The archived file's partition was never materialized, so this materialize loaded it.
    counted = ltv("sql", "select count(*) as n from raw_samcart_orders")
    assert counted.stdout.splitlines() == ["n", "10"], counted.stdout + counted.stderr
    assert not list(ltv_home.run_owners_dir.glob("*.lock")), "a dead owner's lock file was left"


@pytest.mark.slow
def test_the_daemon_fails_a_killed_run_so_a_queued_run_launches(ltv_home):
    dropped_result = ltv_home.results_dir / f"{inspect_file(ORDERS_SAMPLE).sha256}.json"
    with DagsterInstance.get() as instance, dagster_daemon(ltv_home.home) as daemon:
        killed, run = _killed_mid_run(ltv_home, instance, RECURRING_SAMPLE)
        killed_at = time.monotonic()
        # Dropped after the kill: its run is queued behind the killed one, which holds the one
        # run slot until the daemon notices that its process is gone.
        shutil.copy(ORDERS_SAMPLE, ltv_home.inbox_dir / "orders.csv")
        _wait_for(
            lambda: _run_status(instance, run.run_id) == DagsterRunStatus.FAILURE,
            "the daemon to mark the killed run failed",
            timeout=300,
            process=daemon,
            log=ltv_home.home / "daemon.log",
        )
        failed_after = time.monotonic() - killed_at
        _wait_for(
            dropped_result.exists,
            "the dropped file's run",
            timeout=300,
            process=daemon,
            log=ltv_home.home / "daemon.log",
        )
        print(
            f"killed run failed after {failed_after:.0f} s; dropped file loaded after "
            f"{time.monotonic() - killed_at:.0f} s"
        )
        assert f"process {killed.pid} that ran it is gone" in _failure_message(instance, run.run_id)
    assert json.loads(dropped_result.read_text())["status"] == "loaded"


def _worker_pid(instance: DagsterInstance, run_id: str) -> int | None:
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event is not None and (event.message or "").startswith("Started process for run"):
            return int(event.engine_event_data.metadata["pid"].value)
    return None


@pytest.mark.slow
def test_a_launched_run_killed_with_its_daemon_is_failed_by_the_next_daemon(ltv_home):
    """A power cut while the daemon runs a dropped file: daemon, code server and run worker all
    die at once. The next daemon marks the run failed, retries it, and later runs go through."""
    env = {**os.environ, "LTV_BUSY_TIMEOUT_SECONDS": "900"}
    log = ltv_home.home / "daemon.log"
    retried_result = ltv_home.results_dir / f"{inspect_file(RECURRING_SAMPLE).sha256}.json"
    dropped_result = ltv_home.results_dir / f"{inspect_file(ORDERS_SAMPLE).sha256}.json"
    with DagsterInstance.get() as instance:
        with (
            warehouse_held(ltv_home.warehouse_path, seconds=900),
            dagster_daemon(ltv_home.home, env) as daemon,
        ):
            shutil.copy(RECURRING_SAMPLE, ltv_home.inbox_dir / "recurring.csv")
            run: DagsterRun = _wait_for(
                lambda: next(
                    iter(instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED]))),
                    None,
                ),
                "the daemon's run to start",
                timeout=300,
                process=daemon,
                log=log,
            )
            pid = _wait_for(
                lambda: _worker_pid(instance, run.run_id),
                "the run worker's pid",
                timeout=120,
                process=daemon,
                log=log,
            )
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
            _wait_for(
                lambda: process_started_at(pid) is None,
                f"the run worker {pid} to die with its daemon",
                timeout=60,
            )
        assert _run_status(instance, run.run_id) == DagsterRunStatus.STARTED

        with dagster_daemon(ltv_home.home, env) as daemon:
            _wait_for(
                lambda: _run_status(instance, run.run_id) == DagsterRunStatus.FAILURE,
                "the next daemon to mark the killed run failed",
                timeout=300,
                process=daemon,
                log=log,
            )
            assert f"(pid {pid}) is gone" in _failure_message(instance, run.run_id)
            # The archived file is loaded by a retry of its run; a new file goes through too.
            shutil.copy(ORDERS_SAMPLE, ltv_home.inbox_dir / "orders.csv")
            for result in (retried_result, dropped_result):
                _wait_for(result.exists, result.name, timeout=300, process=daemon, log=log)
    for result in (retried_result, dropped_result):
        assert json.loads(result.read_text())["status"] == "loaded"
