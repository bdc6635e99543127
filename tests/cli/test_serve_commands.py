"""`ltv serve-webhooks` and `ltv serve-web` as a user runs them: real processes, real ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port, stop_process_group

# The `ltv` console script puts its own folder first on sys.path, never the working folder;
# `-P` gives `python -m` the same path.
LTV = [sys.executable, "-P", "-m", "ltv_pipeline.cli.main"]


def _healthz(port: int) -> int | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": "127.0.0.1"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except OSError:
        return None


@pytest.mark.parametrize("command", ["serve-webhooks", "serve-web"])
def test_a_service_ignores_python_files_in_the_folder_it_is_started_from(
    ltv_home, tmp_path: Path, command: str
) -> None:
    """A user's scripts folder holding a `json.py` must not replace the standard library's in
    the service (it did once the service became `python -m ...`, which puts the working folder
    first on sys.path)."""
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "json.py").write_text("raise SystemExit('the json.py of the working folder')\n")
    port = free_port()
    service = subprocess.Popen(
        [*LTV, command, "--port", str(port)],
        cwd=folder,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _healthz(port) != 200 and service.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert service.poll() is None, service.communicate()[0]
        assert _healthz(port) == 200
    finally:
        stop_process_group(service)
    assert service.returncode in (0, -15, 143)
