"""`ltv run` (what `make run` starts) end to end: a dropped export is ingested by the daemon."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ltv_core.formats.csv_file import inspect_file
from tests.support import ORDERS_SAMPLE, free_port
from tests.web.services import LtvRun


@pytest.mark.slow
def test_a_file_dropped_in_the_inbox_is_ingested_and_everything_stops_on_sigterm(ltv_home):
    env = {
        **os.environ,
        "LTV_DAGSTER_PORT": str(free_port()),
        "LTV_WEBHOOK_PORT": str(free_port()),
        "LTV_WEB_PORT": str(free_port()),
    }
    run = LtvRun(env)
    result_file = ltv_home.results_dir / f"{inspect_file(ORDERS_SAMPLE).sha256}.json"
    try:
        shutil.copy(ORDERS_SAMPLE, ltv_home.inbox_dir / "orders.csv")
        run.wait_until(result_file.exists, timeout=150, what="ingesting the dropped file")
        result = json.loads(result_file.read_text())
        assert (result["status"], result["rows"]) == ("loaded", 10)
        assert not (ltv_home.inbox_dir / "orders.csv").exists()
        assert "http://127.0.0.1:" + env["LTV_DAGSTER_PORT"] in run.output()
        assert (
            f"Logs of Dagster, the webhook receiver and the pages: {ltv_home.logs_dir}/"
            in (run.lines[:8])
        )
        run.wait_until(
            lambda: any(line.endswith("  orders.csv imported") for line in run.lines),
            timeout=30,
            what="the terminal saying the file was imported",
        )
        assert any(line.endswith("  file taken: orders.csv") for line in run.lines)
    finally:
        exit_code = run.stop()
    assert exit_code == 0
    assert run.survivors() == [], "a process started by ltv run outlived it"
    run.reader.join(timeout=10)
    assert run.lines[-3:] == [
        "stopped the Dagster UI and daemon",
        "stopped the webhook receiver",
        "stopped the upload and report pages",
    ]
    printed = "\n".join(run.lines)
    assert "Traceback" not in printed and "DEBUG" not in printed, printed
    assert len(run.lines) < 20, printed  # no sensor ticks, no step events
    dagster_log = (ltv_home.logs_dir / "dagster.log").read_text()
    assert "Serving dagster-webserver on" in dagster_log
    assert "10 rows read, 10 accepted, 0 rejected" in dagster_log  # the run's own INFO lines
    assert "DEBUG" not in dagster_log  # STEP_START and the like: Dagster's DEBUG events
