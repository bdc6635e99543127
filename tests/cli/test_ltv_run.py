"""`ltv run` (what `make run` starts) end to end: a dropped export is ingested by the daemon."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from ltv_pipeline.formats.csv_file import inspect_file
from tests.support import ORDERS_SAMPLE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_file_dropped_in_the_inbox_is_ingested_and_everything_stops_on_sigterm(ltv_home):
    env = {
        **os.environ,
        "LTV_DAGSTER_PORT": str(free_port()),
        "LTV_WEBHOOK_PORT": str(free_port()),
        "LTV_WEB_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ltv_pipeline.cli.main", "run"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    result_file = ltv_home.results_dir / f"{inspect_file(ORDERS_SAMPLE).sha256}.json"
    try:
        shutil.copy(ORDERS_SAMPLE, ltv_home.inbox_dir / "orders.csv")
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not result_file.exists():
            assert process.poll() is None, "ltv run exited early"
            time.sleep(1)
        assert result_file.exists(), "the dropped file was not ingested within 150 s"
        result = json.loads(result_file.read_text())
        assert (result["status"], result["rows"]) == ("loaded", 10)
        assert not (ltv_home.inbox_dir / "orders.csv").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and group_alive(process.pid):
        time.sleep(0.2)
    assert not group_alive(process.pid), "a child of ltv run outlived it"
