"""Freshness end to end: sidecar + Dagster daemon; a delivery is in the asset within 2 minutes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from ltv_core.settings import Settings
from tests.support import dagster_daemon
from tests.webhooks.sidecar import Sidecar, event_body, sha256

FRESHNESS_SECONDS = 120


def _find(warehouse: Path, content_hash: str) -> bool:
    if not warehouse.exists():
        return False
    try:
        conn = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return False  # a run holds the warehouse right now; look again shortly
    try:
        rows = conn.execute(
            "SELECT count(*) FROM raw_samcart_webhook_events WHERE delivery_hash = ?",
            [content_hash],
        ).fetchone()
        return bool(rows and rows[0])
    except duckdb.CatalogException:
        return False
    finally:
        conn.close()


@pytest.mark.slow
def test_delivery_reaches_the_asset_within_two_minutes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "LTV_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    settings = Settings.from_env(env)
    settings.ensure_layout()
    sidecar = Sidecar(home, seal_seconds=1.0)
    with dagster_daemon(home, env) as daemon:
        try:
            sidecar.start()
            body = event_body(42)
            delivered = time.monotonic()
            response = httpx.post(sidecar.url(), content=body)
            assert response.status_code == 200
            while time.monotonic() - delivered < FRESHNESS_SECONDS:
                assert daemon.poll() is None, (home / "daemon.log").read_text()[-3000:]
                if _find(settings.warehouse_path, sha256(body)):
                    break
                time.sleep(2)
            else:
                pytest.fail(
                    "not in raw_samcart_webhook_events after 2 minutes:\n"
                    + (home / "daemon.log").read_text()[-3000:]
                )
            print(f"visible after {time.monotonic() - delivered:.1f} s")
        finally:
            sidecar.stop()
