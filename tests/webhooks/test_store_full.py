"""Promise 1, the other side: when the store cannot commit (disk full), the answer is 503,
never 2xx, /healthz says so, and everything answered 2xx before is still there."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ltv_core.webhook_segments import Layout, recover_dead_owners
from tests.support import skip_unless_ci
from tests.webhooks.sidecar import Sidecar, landed_hashes, sha256


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        skip_unless_ci(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_answers_503_and_keeps_what_was_acknowledged(
    small_disk: Path, tmp_path: Path
) -> None:
    sidecar = Sidecar(small_disk / "home", seal_seconds=60, log_dir=tmp_path)
    sidecar.start()
    acknowledged, refused = set(), 0
    try:
        with httpx.Client(timeout=20) as client:
            for n in range(200):
                body = json.dumps({"type": "Order", "n": n, "pad": "x" * 60_000}).encode()
                response = client.post(sidecar.url(), content=body)
                assert response.status_code in (200, 503), response.text
                if response.status_code == 200:
                    acknowledged.add(sha256(body))
                else:
                    refused += 1
                    assert response.json()["error"] == "store_unavailable"
                    if refused >= 3:
                        break
            health = client.get(f"{sidecar.base}/healthz")
    finally:
        sidecar.kill()
    assert refused >= 3, "the disk never filled up"
    assert health.status_code == 503 and health.json()["store_writable"] is False
    assert acknowledged
    # Read what landed on a disk with room, the way a restarted sidecar would recover it.
    copy = tmp_path / "copy"
    shutil.copytree(sidecar.home, copy)
    recover_dead_owners(Layout(copy / "webhooks"))
    assert acknowledged <= set(landed_hashes(copy))
