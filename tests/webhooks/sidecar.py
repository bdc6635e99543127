"""A real sidecar process on a loopback port, for tests: start, kill -9, stop, and post to it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx

from ltv_core.webhook_segments import TABLE, Layout
from ltv_core.webhook_tokens import ensure_token
from tests.support import free_port, stop_process_group

STARTUP_SECONDS = 30


@dataclass
class Sidecar:
    home: Path
    seal_seconds: float = 0.5
    max_body_bytes: int | None = None
    body_timeout_seconds: float | None = None
    port: int = field(default_factory=free_port)
    log_dir: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LTV_HOME"] = str(self.home)
        env["LTV_WEBHOOK_SEAL_SECONDS"] = str(self.seal_seconds)
        if self.max_body_bytes is not None:
            env["LTV_WEBHOOK_MAX_BODY_BYTES"] = str(self.max_body_bytes)
        if self.body_timeout_seconds is not None:
            env["LTV_WEBHOOK_BODY_TIMEOUT_SECONDS"] = str(self.body_timeout_seconds)
        return env

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, account: str = "default") -> str:
        return ensure_token(self.home / "webhook_tokens.json", account)

    def url(self, account: str = "default") -> str:
        return f"{self.base}/webhooks/samcart/{self.token(account)}"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log_dir = self.log_dir or self.home
        log = open(log_dir / f"sidecar-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ltv_webhook", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sidecar exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("sidecar did not become healthy in time")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        stop_process_group(self.process)


def event_body(n: int, event_type: str = "Order", **extra: object) -> bytes:
    """A distinct, valid SamCart-like body."""
    body = {
        "type": event_type,
        "customer": {"first_name": "Test", "email": f"Buyer{n}@Example.com "},
        "order": {"id": 900000 + n, "total": "47.00"},
        "product": {"id": 55000 + n % 7, "name": "Course", "price": "47.00", "quantity": 1},
        **extra,
    }
    return json.dumps(body).encode()


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def post_all(
    url: str,
    bodies: list[bytes],
    concurrency: int = 16,
    timeout: float = 15.0,
    on_reply: Callable[[int | None], None] | None = None,
) -> list[tuple[bytes, int | None]]:
    """POST every body with `concurrency` in flight; status None when the connection failed.
    `on_reply` hears each status as it arrives (to act in the middle of the load)."""
    results: list[tuple[bytes, int | None]] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                try:
                    response = await client.post(
                        url, content=body, headers={"content-type": "application/json"}
                    )
                    status: int | None = response.status_code
                except httpx.HTTPError:
                    status = None
                results.append((body, status))
                if on_reply is not None:
                    on_reply(status)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def landed_deliveries(home: Path) -> list[tuple[str, str, bytes]]:
    """(account, content hash, body) of every delivery in every sealed/imported segment (with
    duplicates), read-only."""
    layout = Layout(home / "webhooks")
    found: list[tuple[str, str, bytes]] = []
    for folder in (layout.sealed, layout.imported):
        for segment in sorted(folder.glob("*.duckdb")):
            conn = duckdb.connect(str(segment), read_only=True)
            try:
                found += conn.execute(f"SELECT account, content_hash, body FROM {TABLE}").fetchall()
            finally:
                conn.close()
    return found


def landed_hashes(home: Path) -> list[str]:
    """Content hashes in every sealed/imported segment (with duplicates), read-only."""
    return [content_hash for _, content_hash, _ in landed_deliveries(home)]


def materialize_days(home: Path) -> list[str]:
    """Import and materialize every received day in this process, as `ltv materialize` does."""
    from dagster import AssetKey, DagsterInstance

    from ltv_core.settings import Settings
    from ltv_pipeline.cli.materializing import materialize_one, webhook_days_with_data

    previous = os.environ.get("LTV_HOME")
    os.environ["LTV_HOME"] = str(home)  # the asset reads the one settings object from the env
    try:
        days = webhook_days_with_data(Settings.from_env())
        instance = DagsterInstance.ephemeral()
        for day in days:
            outcome = materialize_one(instance, AssetKey("raw_samcart_webhook_events"), day)
            assert outcome.success, outcome.describe()
    finally:
        if previous is None:
            del os.environ["LTV_HOME"]
        else:
            os.environ["LTV_HOME"] = previous
    return days


def warehouse_rows(home: Path, query: str) -> list[tuple]:
    conn = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()
