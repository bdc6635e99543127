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
    finally:
        exit_code = run.stop()
    assert exit_code == 0
    assert run.survivors() == [], "a process started by ltv run outlived it"
