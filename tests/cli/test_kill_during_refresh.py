"""Interrupted work is redone (issue 14): `ltv materialize` taking in new inputs on a built
history, killed with SIGKILL (its whole process group) at random points of the refresh again and
again, is brought to the end by the next unkilled `ltv materialize`: its model and marts are the
tables a fresh home given the same inputs builds in one go, and it publishes the same reports.
Real processes throughout: `ltv` subprocesses, and deliveries landed by a real sidecar."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ltv_core.published_reports import read_published
from ltv_core.settings import Settings
from tests.cli.test_ltv_cli import LTV, ltv
from tests.marts.cases import order_row, write_orders
from tests.support import LIMITED_SAMPLE, ORDERS_SAMPLE, RECURRING_SAMPLE, stop_process_group
from tests.warehouse_tables import assert_same_tables
from tests.webhooks.sidecar import Sidecar, event_body

KILLS = 10
HOOKS = Path(__file__).parents[1] / "data" / "webhooks"


def _later_export(folder: Path) -> Path:
    """A second orders export: a line of the first one, now refunded, and new sales (one by a
    customer of the history, one by a new customer)."""
    return write_orders(
        folder / "orders-later.csv",
        [
            order_row(100200100, "01/10/2024", 55530, 300, "ada.lovelace@example.com", "Refunded"),
            order_row(100200700, "04/20/2024", 55501, 97, "alan@bletchley.example"),
            order_row(100200701, "04/21/2024", 55502, 29, "new.buyer@example.com"),
        ],
    )


def _deliveries() -> list[bytes]:
    """The same sale as an exported line, a refund of it, a charge and a cancellation of the
    exported subscriptions, and sales only webhooks report."""
    named = ("order", "refund", "recurring_payment_succeeded", "cancel")
    return [(HOOKS / f"{name}.json").read_bytes() for name in named] + [
        event_body(n) for n in range(3)
    ]


def _ltv_in(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`ltv` on another home than the test's own."""
    done = ltv(*args, env_extra={"LTV_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _land(settings: Settings, bodies: list[bytes], stash: Path) -> None:
    """Post the bodies to a real sidecar of the home, stopped after; its sealed segments are
    also copied to `stash`, from which the fresh home gets the same deliveries."""
    sidecar = Sidecar(settings.home)
    sidecar.start()
    try:
        for body in bodies:
            reply = httpx.post(
                sidecar.url(), content=body, headers={"content-type": "application/json"}
            )
            assert reply.status_code == 200, reply.text
    finally:
        sidecar.stop()
    stash.mkdir(exist_ok=True)
    for segment in (settings.webhooks_dir / "sealed").glob("*.duckdb"):
        shutil.copy(segment, stash / segment.name)


def _materialize_killed_after(seconds: float) -> subprocess.CompletedProcess | None:
    """Start `ltv materialize`, SIGKILL its process group after `seconds`; None when it was
    still running then, else how it ended."""
    process = subprocess.Popen(
        [*LTV, "materialize"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=seconds)
        return subprocess.CompletedProcess(process.args, process.returncode, output)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None
    finally:
        stop_process_group(process)


def _published(settings: Settings) -> dict:
    document = read_published(settings.published_dir)
    assert document is not None, f"nothing published in {settings.published_dir}"
    # The projected variants come from the daily fit: the killed home kept the fit of its first
    # run (on less data), as any home does until the next day; they are not the refresh's work.
    reports = {k: v for k, v in document["reports"].items() if not k.endswith("/projected")}
    kept = {key: value for key, value in document.items() if key != "published_at"}
    return {**kept, "reports": reports}


@pytest.mark.slow
def test_a_refresh_killed_again_and_again_converges_to_a_fresh_build(ltv_home, tmp_path):
    imported = ltv("import", str(ORDERS_SAMPLE), str(RECURRING_SAMPLE))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    started = time.monotonic()
    built = ltv("materialize")
    refresh_seconds = time.monotonic() - started  # the kill points are spread over this
    assert built.returncode == 0, built.stdout + built.stderr

    # New inputs arrive: exports, and deliveries the sidecar lands.
    later = _later_export(tmp_path)
    arrived = ltv("import", str(later), str(LIMITED_SAMPLE))
    assert arrived.returncode == 0, arrived.stdout + arrived.stderr
    stash = tmp_path / "segments"
    _land(ltv_home, _deliveries(), stash)

    seed = random.randrange(2**32)
    rng = random.Random(seed)
    print(f"kill seed {seed}; one build takes {refresh_seconds:.1f} s")
    killed = attempts = 0
    while killed < KILLS:
        attempts += 1
        assert attempts <= 3 * KILLS, f"{attempts} attempts, {killed} killed while running"
        delay = rng.uniform(0, refresh_seconds)
        ended = _materialize_killed_after(delay)
        if ended is None:
            killed += 1
            print(f"attempt {attempts}: killed after {delay:.2f} s")
            continue
        # It got to the end first: more deliveries arrive, so the next attempt has a refresh.
        print(f"attempt {attempts}: ended ({ended.returncode}) before {delay:.2f} s")
        print(ended.stdout[-2000:])
        _land(ltv_home, [event_body(100 + attempts)], stash)

    done = ltv("materialize")
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)

    fresh = tmp_path / "fresh_home"
    _ltv_in(fresh, "import", *map(str, (ORDERS_SAMPLE, RECURRING_SAMPLE, later, LIMITED_SAMPLE)))
    shutil.copytree(stash, fresh / "webhooks" / "sealed", dirs_exist_ok=True)
    _ltv_in(fresh, "materialize")
    fresh_settings = Settings.from_env({"LTV_HOME": str(fresh)})
    assert_same_tables(
        ltv_home.warehouse_path,
        fresh_settings.warehouse_path,
        names=("killed home", "fresh home"),
    )
    assert _published(ltv_home) == _published(fresh_settings)
