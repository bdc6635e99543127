"""The file-drop sensor, evaluated with build_sensor_context against a real temp instance."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time

import pytest
from dagster import build_sensor_context, instance_for_test

from ltv_core.archive import partition_key_of
from ltv_core.formats.csv_file import inspect_file
from ltv_core.settings import Settings
from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.raw_files.inbox_sensor import inbox_sensor
from ltv_pipeline.defs.resources import LtvSettings
from tests.defs.test_raw_file_assets import run
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE


@pytest.fixture
def instance(ltv_home):
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        yield instance


def tick(instance, cursor=None, settings: Settings | None = None):
    """Evaluate the sensor, given the settings as Dagster gives them (the environment's unless
    a test passes its own), and check that every run it asks for targets one of its jobs."""
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=build_definitions(),
        resources={"ltv_settings": LtvSettings.from_settings(settings or Settings.from_env())},
    )
    result = inbox_sensor(context)
    targeted = {target.job_name for target in inbox_sensor.targets}
    assert all(request.job_name in targeted for request in result.run_requests)
    return result


def apply(instance, result):
    """Do what the daemon does with a sensor result: register the requested partitions."""
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def drop(ltv_home, source, name, account=None):
    folder = ltv_home.inbox_dir / account if account else ltv_home.inbox_dir
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copy(source, target)
    past = time.time() - 60
    os.utime(target, (past, past))
    return target


def test_a_stable_file_gets_one_run_keyed_by_its_content(ltv_home, instance):
    drop(ltv_home, ORDERS_SAMPLE, "orders-export.csv")
    first = tick(instance)
    assert first.run_requests == []  # seen once: not yet known to be stable
    second = tick(instance, first.cursor)
    sha = inspect_file(ORDERS_SAMPLE).sha256
    key = partition_key_of(ltv_home.archive_dir, sha, "default")
    assert key == f"default · {dt.datetime.now(dt.UTC).date()} · orders-export.csv · {sha[:8]}"
    assert [r.run_key for r in second.run_requests] == [key]
    assert second.run_requests[0].partition_key == key
    assert second.dynamic_partitions_requests[0].partition_keys == [key]
    assert (ltv_home.archive_dir / f"{sha}.csv").exists()
    assert not (ltv_home.inbox_dir / "orders-export.csv").exists()


def test_a_file_still_growing_is_left_alone(ltv_home, instance):
    path = drop(ltv_home, ORDERS_SAMPLE, "growing.csv")
    first = tick(instance)
    with path.open("a") as handle:
        handle.write("100200999,04/03/2024,10:00:00,Charged,1,X,$1.00,A,B,a@b.c,,,,,,\n")
    past = time.time() - 30
    os.utime(path, (past, past))
    second = tick(instance, first.cursor)
    assert second.run_requests == []
    assert path.exists()


def test_a_file_modified_just_now_waits_for_the_settle_time(ltv_home, instance):
    patient = ltv_home.model_copy(update={"inbox_settle_seconds": 3600.0})
    drop(ltv_home, ORDERS_SAMPLE, "orders.csv")
    (ltv_home.inbox_dir / "orders.csv").touch()
    first = tick(instance, settings=patient)
    assert tick(instance, first.cursor, settings=patient).run_requests == []
    assert tick(instance, first.cursor).run_requests  # the default settle time (0 s) has passed


def test_the_same_content_again_is_a_duplicate_and_not_ingested(ltv_home, instance):
    drop(ltv_home, ORDERS_SAMPLE, "a.csv")
    result = tick(instance, tick(instance).cursor)
    apply(instance, result)
    request = result.run_requests[0]
    assert run(instance, "raw_samcart_orders", request.partition_key).success

    drop(ltv_home, ORDERS_SAMPLE, "renamed copy.csv")
    again = tick(instance, tick(instance, result.cursor).cursor)
    assert again.run_requests == []
    assert not (ltv_home.inbox_dir / "renamed copy.csv").exists()
    stored = json.loads(
        (ltv_home.results_dir / f"{inspect_file(ORDERS_SAMPLE).sha256}.json").read_text()
    )
    assert stored["status"] == "duplicate"
    assert stored["rows"] == 10


def test_an_unrecognised_file_is_quarantined_with_a_plain_reason(ltv_home, instance):
    bad = ltv_home.inbox_dir / "notes.csv"
    bad.write_text("Name,Favourite Colour\nAda,blue\n")
    past = time.time() - 60
    os.utime(bad, (past, past))
    result = tick(instance, tick(instance).cursor)
    assert result.run_requests == []
    quarantined = ltv_home.quarantine_dir / "default" / "notes.csv"
    assert quarantined.exists()
    reason = (ltv_home.quarantine_dir / "default" / "notes.csv.error.txt").read_text()
    assert "matches no known SamCart export" in reason


def test_files_in_an_account_folder_belong_to_that_account(ltv_home, instance):
    drop(ltv_home, RECURRING_SAMPLE, "subs.csv", account="store-b")
    result = tick(instance, tick(instance).cursor)
    key = partition_key_of(ltv_home.archive_dir, inspect_file(RECURRING_SAMPLE).sha256, "store-b")
    assert key.startswith("store-b · ") and " · subs.csv · " in key
    assert [r.partition_key for r in result.run_requests] == [key]
    assert result.run_requests[0].job_name == "ingest_raw_samcart_subscriptions"


def test_partial_and_hidden_files_are_ignored(ltv_home, instance):
    drop(ltv_home, ORDERS_SAMPLE, ".orders.csv")
    drop(ltv_home, ORDERS_SAMPLE, "orders.csv.part")
    result = tick(instance, tick(instance).cursor)
    assert result.run_requests == []
    assert (ltv_home.inbox_dir / "orders.csv.part").exists()


def test_an_archived_file_whose_partition_was_lost_is_requested_again(ltv_home, instance):
    drop(ltv_home, ORDERS_SAMPLE, "orders.csv")
    lost = tick(instance, tick(instance).cursor)  # the daemon died before applying this
    assert len(lost.run_requests) == 1
    recovered = tick(instance, lost.cursor)
    assert [r.run_key for r in recovered.run_requests] == [lost.run_requests[0].run_key]


def test_a_symlinked_account_folder_is_quarantined_and_never_followed(ltv_home, instance, tmp_path):
    outside = tmp_path / "my-exports"
    outside.mkdir()
    original = outside / "orders.csv"
    shutil.copy(ORDERS_SAMPLE, original)
    past = time.time() - 60
    os.utime(original, (past, past))
    (ltv_home.inbox_dir / "store-b").symlink_to(outside, target_is_directory=True)

    result = tick(instance, tick(instance).cursor)
    assert result.run_requests == []
    assert original.read_bytes() == ORDERS_SAMPLE.read_bytes(), "the user's file is untouched"
    link = ltv_home.quarantine_dir / "default" / "store-b"
    assert link.is_symlink() and link.readlink() == outside
    assert "symbolic link" in (link.parent / "store-b.error.txt").read_text()
    assert not (ltv_home.inbox_dir / "store-b").exists()
    assert list(ltv_home.archive_dir.iterdir()) == []


def test_a_symlinked_file_is_quarantined_as_a_link(ltv_home, instance, tmp_path):
    original = tmp_path / "orders.csv"
    shutil.copy(ORDERS_SAMPLE, original)
    (ltv_home.inbox_dir / "store-c").mkdir()
    (ltv_home.inbox_dir / "store-c" / "orders.csv").symlink_to(original)

    result = tick(instance, tick(instance).cursor)
    assert result.run_requests == []
    assert original.read_bytes() == ORDERS_SAMPLE.read_bytes()
    link = ltv_home.quarantine_dir / "store-c" / "orders.csv"
    assert link.is_symlink() and link.readlink() == original
    assert "symbolic link" in (link.parent / "orders.csv.error.txt").read_text()
    assert list(ltv_home.archive_dir.iterdir()) == []
