"""`ltv demo`: a synthetic business the pipeline accepts whole, and webhooks the sidecar takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

from ltv_pipeline.demo.business import build_business
from ltv_pipeline.demo.exports import demo_exports
from ltv_pipeline.demo.webhooks import demo_deliveries
from tests.support import free_port


def test_the_same_seed_gives_the_same_business(catalog):
    first = demo_exports(build_business(200, seed=3), catalog)
    second = demo_exports(build_business(200, seed=3), catalog)
    assert first == second
    assert first != demo_exports(build_business(200, seed=4), catalog)


def test_the_business_has_every_kind_of_sale(catalog):
    business = build_business(1000, seed=7)
    statuses = {line.status for line in business.lines()}
    assert {"Charged", "Refunded", "Partially Refunded", "Declined"} <= statuses
    kinds = {s.product.kind for c in business.customers for s in c.subscriptions}
    assert kinds == {"recurring", "plan"}
    orders = {}
    for line in business.lines():
        orders.setdefault(line.order_id, []).append(line.product.name)
    assert any(len(names) > 1 for names in orders.values()), "no order bumps"
    assert any("VIP Upgrade" in names for names in orders.values()), "no upsells"
    bodies = demo_deliveries(business, 300, seed=7)
    assert len(bodies) == 300
    assert {"Order", "RecurringPaymentSucceeded", "RecurringPaymentFailed", "Refund"} <= {
        b["type"] for b in bodies
    }


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # answering
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def test_ltv_demo_fills_the_inbox_and_posts_to_the_sidecar(ltv_home):
    env = {**os.environ, "LTV_WEBHOOK_PORT": str(free_port())}
    sidecar = subprocess.Popen(
        [sys.executable, "-m", "ltv_webhook"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{env['LTV_WEBHOOK_PORT']}/")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ltv_pipeline.cli.main",
                "demo",
                "--customers",
                "300",
                "--webhooks",
                "60",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        sidecar.terminate()
        sidecar.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Posted 60 webhook deliveries to the webhook receiver (0 refused)" in done.stdout, (
        done.stdout
    )
    exports = sorted(ltv_home.inbox_dir.glob("*.csv"))
    assert len(exports) == 3
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "ltv_pipeline.cli.main",
            "import",
            "--json",
            *[str(p) for p in exports],
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    results = [json.loads(line) for line in imported.stdout.splitlines()]
    assert {r["format"] for r in results} == {
        "samcart-orders",
        "samcart-recurring-subscriptions",
        "samcart-limited-subscriptions",
    }
    assert all(r["status"] == "loaded" and r["rejected"] == 0 for r in results), results


def test_ltv_demo_says_what_to_do_when_the_sidecar_is_not_running(ltv_home, monkeypatch, capsys):
    monkeypatch.setattr("ltv_pipeline.cli.demo.SIDECAR_WAIT_SECONDS", 0)
    from ltv_core.settings import Settings
    from ltv_pipeline.cli.demo import run_demo

    port = free_port()
    settings = Settings.from_env({**os.environ, "LTV_WEBHOOK_PORT": str(port)})
    assert run_demo(settings, customers=50, seed=1, webhooks=5) == 1
    assert len(list(settings.inbox_dir.glob("*.csv"))) == 3
    said = capsys.readouterr().err
    assert f"the webhook receiver is not answering on 127.0.0.1:{port}" in said
    assert "start `make run` (or `ltv run`) and run `ltv demo` again" in said
