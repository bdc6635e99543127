"""The landing store and segment recovery in-process, with failures injected in the test only."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path

import duckdb

from ltv_core.webhook_segments import TABLE, Layout, recover_dead_owners
from ltv_webhook.store import Delivery, LandingStore
from tests.webhooks.sidecar import event_body, sha256


def _delivery(n: int) -> Delivery:
    body = event_body(n)
    return Delivery(
        account="default",
        content_hash=sha256(body),
        received_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        content_type="application/json",
        body=body,
        outcome="accepted",
    )


def _sealed_hashes(layout: Layout) -> list[str]:
    hashes = []
    for segment in layout.sealed_segments():
        conn = duckdb.connect(str(segment), read_only=True)
        try:
            hashes += [
                row[0] for row in conn.execute(f"SELECT content_hash FROM {TABLE}").fetchall()
            ]
        finally:
            conn.close()
    return sorted(hashes)


def test_a_log_whose_successor_cannot_be_opened_is_still_sealed(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        store = LandingStore(tmp_path / "webhooks", seal_seconds=0.2)
        await store.start()
        assert store._writer is not None
        real_open_next = store._writer.open_next
        failures = []

        def open_next_failing_once() -> None:
            if not failures:
                failures.append(1)
                raise OSError(28, "No space left on device (injected)")
            real_open_next()

        store._writer.open_next = open_next_failing_once  # type: ignore[method-assign]
        await store.land(_delivery(1))
        for _ in range(50):  # the failed rotation, then its log sealed while still running
            await asyncio.sleep(0.1)
            if failures and store.layout.sealed_segments():
                break
        sealed_while_running = _sealed_hashes(store.layout)
        await store.stop()
        return failures, sealed_while_running

    failures, sealed = asyncio.run(scenario())
    assert failures == [1]
    assert sealed == [_delivery(1).content_hash]


def test_concurrent_recoveries_of_one_orphan_log_seal_it_once(tmp_path: Path) -> None:
    rows = 3000
    for attempt in range(5):
        layout = Layout(tmp_path / f"webhooks-{attempt}")
        layout.ensure()
        deliveries = [_delivery(n) for n in range(rows)]
        with open(layout.active / "20260101T000000-1-abcdef-000001.log", "wb") as log:
            for d in deliveries:
                log.write(d.record())
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def recover(
            layout: Layout = layout,
            start: threading.Barrier = start,
            errors: list[BaseException] = errors,
        ) -> None:
            start.wait()
            try:
                recover_dead_owners(layout)
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=recover) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(layout.sealed_segments()) == 1
        assert _sealed_hashes(layout) == sorted(d.content_hash for d in deliveries)
        assert not list(layout.active.glob("*.log")) and not list(layout.active.glob("*.tmp"))
