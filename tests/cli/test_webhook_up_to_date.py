"""`ltv materialize` rebuilds a webhook day only when its deliveries changed since it was built."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.cli.test_ltv_cli import ltv
from tests.webhooks.sidecar import Sidecar, event_body

ORDER = Path(__file__).parents[1] / "data" / "webhooks" / "order.json"
WEBHOOK_ASSET = "raw_samcart_webhook_events ["


def post(sidecar: Sidecar, body: bytes) -> None:
    sidecar.start()
    try:
        reply = httpx.post(
            sidecar.url(), content=body, headers={"content-type": "application/json"}, timeout=15
        )
        assert reply.status_code == 200, reply.text
    finally:
        sidecar.stop()


def test_a_webhook_day_is_rebuilt_only_after_new_deliveries(ltv_home):
    sidecar = Sidecar(ltv_home.home)
    post(sidecar, ORDER.read_bytes())
    first = ltv("materialize")
    assert first.returncode == 0, first.stdout + first.stderr
    assert WEBHOOK_ASSET in first.stdout

    again = ltv("materialize")
    assert again.stdout.strip() == "everything is up to date", again.stdout + again.stderr

    post(sidecar, event_body(1))  # the same local day (today) gets a new delivery
    after_new = ltv("materialize")
    assert after_new.returncode == 0, after_new.stdout + after_new.stderr
    rebuilt = [ln for ln in after_new.stdout.splitlines() if ln.startswith(WEBHOOK_ASSET)]
    assert len(rebuilt) == 1, after_new.stdout
    counted = ltv("sql", "select count(distinct delivery_hash) from raw_samcart_webhook_events")
    assert counted.stdout.splitlines()[1] == "2", counted.stdout
    assert ltv("materialize").stdout.strip() == "everything is up to date"
