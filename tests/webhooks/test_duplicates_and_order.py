"""Promises 3 and 4: retries (also concurrent) count once, and arrival order does not matter."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import httpx
import pytest

from tests.support import DATA
from tests.webhooks.sidecar import (
    Sidecar,
    event_body,
    landed_hashes,
    materialize_days,
    post_all,
    sha256,
    warehouse_rows,
)

SAMPLES = DATA / "webhooks"  # copies of shared/samples/webhooks
COMPARED = (
    "account, delivery_hash, line_index, event_type, raw_type, order_id, product_id, "
    "product_name, subscription_id, transaction_id, refund_transaction_id, amount, quantity, "
    "customer_email"
)


def _stream() -> list[bytes]:
    bodies = [event_body(n, event_type=t) for n, t in enumerate(["Order", "Refund", "Cancel"] * 10)]
    bodies.append(
        json.dumps(
            {
                "type": "Product Purchased",
                "customer": {"email": "two@lines.example"},
                "order": {"id": 77, "total": "64.00"},
                "product": {"id": "123,456", "name": "A,B", "price": "47.00,17.00"},
            }
        ).encode()
    )
    bodies += [p.read_bytes() for p in sorted(SAMPLES.glob("*.json"))]
    assert len(bodies) > 4, "the sample webhook bodies are missing"
    return bodies


def _deliver(home: Path, bodies: list[bytes], seed: int) -> list[tuple]:
    """Replay each body 2-5 times, shuffled, many concurrently; return the final table."""
    rng = random.Random(seed)
    arrivals = [body for body in bodies for _ in range(rng.randint(2, 5))]
    rng.shuffle(arrivals)
    sidecar = Sidecar(home)
    sidecar.start()
    try:
        results = asyncio.run(post_all(sidecar.url(), arrivals, concurrency=12))
    finally:
        sidecar.stop()
    assert {status for _, status in results} == {200}
    materialize_days(home)
    return warehouse_rows(home, f"SELECT {COMPARED} FROM raw_samcart_webhook_events ORDER BY ALL")


def test_duplicates_count_once_and_order_does_not_matter(tmp_path: Path) -> None:
    bodies = _stream()
    first = _deliver(tmp_path / "a", bodies, seed=1)
    second = _deliver(tmp_path / "b", bodies, seed=2)
    assert first == second
    assert len({row[1] for row in first}) == len(bodies)
    assert len(first) == len(bodies) + 1  # the comma-joined delivery has two lines
    counts = warehouse_rows(
        tmp_path / "a", "SELECT count(*), count(DISTINCT content_hash) FROM webhook_deliveries"
    )
    assert counts == [(len(bodies), len(bodies))]


@pytest.mark.parametrize("copies", [8])
def test_the_same_body_concurrently_is_one_delivery(tmp_path: Path, copies: int) -> None:
    home = tmp_path / "home"
    sidecar = Sidecar(home)
    body = event_body(1)
    sidecar.start()
    try:
        results = asyncio.run(post_all(sidecar.url(), [body] * copies, concurrency=copies))
    finally:
        sidecar.stop()
    assert [status for _, status in results] == [200] * copies
    materialize_days(home)
    rows = warehouse_rows(home, "SELECT delivery_hash FROM raw_samcart_webhook_events")
    assert rows == [(sha256(body),)]


def _wait_sealed(home: Path, body: bytes) -> None:
    deadline = time.monotonic() + 20
    while sha256(body) not in landed_hashes(home):
        assert time.monotonic() < deadline, "the delivery was not sealed in time"
        time.sleep(0.1)


def test_a_dead_letter_sent_again_with_a_readable_content_type_reaches_the_model(
    tmp_path: Path,
) -> None:
    """The same bytes as a form (400, dead letter), then as JSON: the retry is written (not
    "duplicate") and the accepted copy wins, whether the dead letter was already imported
    (another segment, another run) or lands in the same import."""
    home = tmp_path / "home"
    later = (SAMPLES / "order.json").read_bytes()
    together = event_body(1)
    form = {"content-type": "application/x-www-form-urlencoded"}
    as_json = {"content-type": "application/json"}
    sidecar = Sidecar(home)
    sidecar.start()
    try:
        assert httpx.post(sidecar.url(), content=later, headers=form).status_code == 400
        _wait_sealed(home, later)
        materialize_days(home)
        dead = warehouse_rows(home, "SELECT file_hash, reason FROM rejects")
        assert [h for h, _ in dead] == [sha256(later)]
        assert dead[0][1].startswith("dead letter (answered 400): ")
        answers = [
            httpx.post(sidecar.url(), content=body, headers=headers)
            for body, headers in [(later, as_json), (together, form), (together, as_json)]
        ]
        assert [a.status_code for a in answers] == [200, 400, 200]
        assert answers[0].json()["duplicate"] is False
        assert answers[2].json()["duplicate"] is False
        _wait_sealed(home, together)
    finally:
        sidecar.stop()
    materialize_days(home)
    stored = warehouse_rows(
        home, "SELECT DISTINCT delivery_hash FROM raw_samcart_webhook_events ORDER BY 1"
    )
    assert stored == sorted([(sha256(later),), (sha256(together),)])
    assert warehouse_rows(home, "SELECT file_hash, reason FROM rejects") == []
    outcomes = warehouse_rows(
        home, "SELECT content_hash, outcome, content_type FROM webhook_deliveries ORDER BY 1"
    )
    assert outcomes == sorted(
        [(sha256(b), "accepted", "application/json") for b in (later, together)]
    )
