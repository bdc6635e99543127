"""The pipeline's state beside the published snapshot: "building" while a rebuild runs, "up to
date" (with the newest input included) once published, "pending" when new input arrives, "failed"
with the reason when the model run fails; real runs, real failures."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from dagster import AssetKey, instance_for_test

from ltv_core.published_reports import (
    BUILDING,
    FAILED,
    PENDING,
    UP_TO_DATE,
    read_published,
    read_state,
)
from tests.marts.test_automation import model_run_while_the_warehouse_is_held
from tests.model.dagster_runs import build_model_and_marts, import_csv
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE, warehouse_held


def iso_seconds(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def wait_for_state(published_dir, state: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = read_state(published_dir)
        if current is not None and current.state == state:
            return current
        time.sleep(0.05)
    raise AssertionError(f"state never became {state!r}; last: {read_state(published_dir)}")


def test_building_then_up_to_date_then_pending_then_failed(ltv_home, monkeypatch):
    published = ltv_home.published_dir
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        import_csv(ltv_home, instance, ORDERS_SAMPLE)
        first_input = read_state(published)
        assert first_input is not None and first_input.state == PENDING
        # The model step waits for a warehouse another process holds: it says "building"
        # meanwhile, and the old (here: no) snapshot stays as it was.
        with warehouse_held(ltv_home.warehouse_path):
            run = threading.Thread(target=build_model_and_marts, args=(instance,))
            run.start()
            building = wait_for_state(published, BUILDING)
            assert read_published(published) is None
        run.join()
        done = read_state(published)
        assert done is not None and done.state == UP_TO_DATE
        assert done.since >= building.since
        # The newest input the snapshot includes: the Orders export, taken in before the run.
        orders = instance.get_latest_materialization_event(AssetKey("raw_samcart_orders"))
        assert orders is not None
        assert done.inputs_as_of == iso_seconds(orders.timestamp)
        snapshot = read_published(published)
        # New input, then a model run that fails for real: "failed", with the error's first
        # line; the snapshot and the inputs it includes are those of the last success.
        import_csv(ltv_home, instance, RECURRING_SAMPLE)
        pending = read_state(published)
        assert pending is not None and pending.state == PENDING
        assert pending.inputs_as_of == done.inputs_as_of
        assert not model_run_while_the_warehouse_is_held(ltv_home, instance, monkeypatch)
        failed = read_state(published)
        assert failed is not None and failed.state == FAILED
        assert failed.error is not None and "warehouse busy" in failed.error
        assert "\n" not in failed.error
        assert failed.inputs_as_of == done.inputs_as_of
        assert read_published(published) == snapshot
