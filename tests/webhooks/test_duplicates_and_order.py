"""Promises 3 and 4: retries (also concurrent) count once, and arrival order does not matter."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from tests.support import DATA
from tests.webhooks.sidecar import (
    Sidecar,
    event_body,
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
