"""A home made before the two subscription assets were renamed keeps working: its Dagster
records, warehouse rows and quarantine notes follow the new names, nothing is parsed again, the
old views still answer, and the numbers are those of a home made now from the same files.

The home "before" is made by the pipeline's own raw asset under the former name (as the code
before defined it), against a real instance and warehouse; the warehouse's views, the rows that
name an asset and the schema version are then set back by hand to what that code left."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterInstance,
    DynamicPartitionsDefinition,
    build_sensor_context,
    instance_for_test,
    materialize,
)
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from ltv_core.archive import archive_file, partition_key_of
from ltv_core.formats.csv_file import inspect_file
from ltv_core.formats.profiles import load_catalog
from ltv_core.quarantine import parse_failures, quarantine_archived
from ltv_core.settings import Settings
from ltv_pipeline.contracts import raw_files as raw_files_contract
from ltv_pipeline.contracts.check_result import CONTRACT_CHECK
from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.raw_files.assets import build_raw_file_asset
from ltv_pipeline.defs.raw_files.inbox_sensor import inbox_sensor
from ltv_pipeline.defs.raw_files.partitions import file_partitions_name
from ltv_pipeline.defs.raw_files.renamed_assets import (
    CARRY_OVER_LOCK,
    _alone,
    _write_again,
    carry_over_renamed_assets,
)
from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.warehouse.landed import raw_view_sql
from tests.cli.test_file_partition_names import numbers
from tests.cli.test_ltv_cli import ltv
from tests.support import LIMITED_SAMPLE, ORDERS_SAMPLE, RECURRING_SAMPLE, write_csv

RECURRING = "samcart-recurring-subscriptions"
PLANS = "samcart-limited-subscriptions"
OLD_NAMES = {
    RECURRING: ("raw_samcart_recurring_subscriptions", "raw_samcart_subscriptions"),
    PLANS: ("raw_samcart_limited_subscriptions", "raw_samcart_payment_plans"),
}
QUARANTINED_KEY = "default · 2026-01-02 · broken.csv · 0badf00d"


def _stage(settings: Settings, instance: DagsterInstance, path: Path, format_name: str, asset: str):
    sha = inspect_file(path).sha256
    archive_file(
        settings.archive_dir,
        path,
        sha,
        account="default",
        format_name=format_name,
        file_name=path.name,
    )
    key = partition_key_of(settings.archive_dir, sha, "default")
    instance.add_dynamic_partitions(file_partitions_name(asset), [key])
    return key


def _materialize(instance: DagsterInstance, assets_def, key: str):
    resources = dict(build_definitions().resources)
    return materialize(
        [assets_def],
        instance=instance,
        partition_key=key,
        resources=resources,
        raise_on_error=False,
    )


def _messy_recurring(tmp_path: Path) -> Path:
    """The recurring sample plus a row that is rejected (no created date)."""
    text = RECURRING_SAMPLE.read_text(encoding="utf-8")
    bad = (
        "7009,Eve,Bad,eve@example.com,55502,Inner Circle Membership,Active,,,$29.00,Monthly,1,$29\n"
    )
    return write_csv(tmp_path / "recurring.csv", text + bad)


def make_home_before_the_rename(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Orders loaded; the recurring file (with a reject) and the payment-plans file (its contract
    check failed, so it is left out of the model) loaded by the raw assets under their former
    names; a quarantine note naming a former asset. Returns the partition key per former name."""
    catalog = load_catalog()
    keys: dict[str, str] = {}
    with instance_for_test(temp_dir=str(settings.dagster_home)) as instance:
        orders = catalog.profile("samcart-orders")
        key = _stage(settings, instance, ORDERS_SAMPLE, "samcart-orders", orders.asset)
        assert _materialize(instance, build_raw_file_asset(orders), key).success
        conn = duckdb.connect(str(settings.warehouse_path))
        for format_name, (former, _) in OLD_NAMES.items():  # the former asset reads its view
            conn.execute(f"CREATE VIEW {former} AS {raw_view_sql(catalog.profile(format_name))}")
        conn.close()
        for format_name, path in ((RECURRING, _messy_recurring(tmp_path)), (PLANS, LIMITED_SAMPLE)):
            former = OLD_NAMES[format_name][0]
            before = dataclasses.replace(
                catalog.profile(format_name), asset=former, former_assets=()
            )
            keys[former] = _stage(settings, instance, path, format_name, former)
            with monkeypatch.context() as patch:
                if format_name == PLANS:  # a contract the stored column breaks as a whole
                    patch.setitem(raw_files_contract.POLARS_TYPES, "money", pl.Float64)
                result = _materialize(instance, build_raw_file_asset(before), keys[former])
            assert [c.passed for c in result.get_asset_check_evaluations()] == [
                format_name != PLANS
            ]
        quarantine_archived(
            tmp_path / "gone.csv",
            settings.quarantine_dir,
            settings.parse_failures_dir,
            partition_key=QUARANTINED_KEY,
            asset=OLD_NAMES[PLANS][0],
            file_name="broken.csv",
            reason="not a CSV file",
        )
    # What the warehouse code before kept under the former names (the loads above wrote the
    # current ones: a file's parse follows its format, which names the asset).
    conn = duckdb.connect(str(settings.warehouse_path))
    for former, current in OLD_NAMES.values():
        conn.execute(f"DROP VIEW {current}")
        conn.execute("UPDATE rejects SET source = ? WHERE source = ?", [former, current])
        conn.execute("UPDATE left_out_partitions SET asset = ? WHERE asset = ?", [former, current])
    conn.execute("UPDATE schema_version SET version = 3, definitions = 'before the rename'")
    assert conn.execute("SELECT DISTINCT asset FROM left_out_partitions").fetchall() == [
        (OLD_NAMES[PLANS][0],)
    ]
    assert (OLD_NAMES[RECURRING][0],) in conn.execute("SELECT source FROM rejects").fetchall()
    conn.close()
    return keys


def _materialization_times(instance: DagsterInstance, asset: str) -> list[float]:
    record = instance.get_latest_materialization_event(AssetKey(asset))
    return [record.timestamp] if record else []


def test_ltv_materialize_carries_a_home_from_before_the_rename_over(
    ltv_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    keys = make_home_before_the_rename(ltv_home, tmp_path, monkeypatch)
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        times = {former: _materialization_times(instance, former) for former in keys}

    built = ltv("materialize")
    assert built.returncode == 0, built.stdout + built.stderr
    for former, current in OLD_NAMES.values():
        assert f"{former} is now {current}: carrying 1 file(s) over" in built.stderr
        assert f"{former} is now {current}: 1 file(s) carried over" in built.stderr
        runs = [line for line in built.stdout.splitlines() if line.startswith(f"{current} [")]
        assert all("skipped, quarantined before" in line for line in runs)  # no file parsed
    assert f"raw_samcart_payment_plans [{QUARANTINED_KEY}]: skipped" in built.stdout
    assert [f.asset for f in parse_failures(ltv_home.parse_failures_dir)] == [OLD_NAMES[PLANS][1]]

    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        for former, current in OLD_NAMES.values():
            key = keys[former]
            assert instance.get_dynamic_partitions(file_partitions_name(current)) == [key]
            assert instance.get_materialized_partitions(AssetKey(current)) == {key}
            assert _materialization_times(instance, current) == times[former]  # when, as before
            assert instance.get_dynamic_partitions(file_partitions_name(former)) == []
            assert instance.get_asset_records([AssetKey(former)]) == []
            [check] = instance.event_log_storage.get_asset_check_execution_history(
                AssetCheckKey(AssetKey(current), CONTRACT_CHECK), limit=10
            )
            assert check.run_id != "RUNLESS"  # the run that checked the file
            passed = check.event.dagster_event.event_specific_data.passed
            assert passed == (current != "raw_samcart_payment_plans")

    conn = duckdb.connect(str(ltv_home.warehouse_path), read_only=True)
    try:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(4,)]
        sources = {source for (source,) in conn.execute("SELECT source FROM rejects").fetchall()}
        assert sources == {current for _, current in OLD_NAMES.values()}
        assert conn.execute("SELECT asset FROM left_out_partitions").fetchall() == [
            ("raw_samcart_payment_plans",)
        ]
        for former, current in OLD_NAMES.values():  # the former views answer as the new ones
            old_rows = conn.execute(f"SELECT * FROM {former} ORDER BY ALL").fetchall()
            assert old_rows == conn.execute(f"SELECT * FROM {current} ORDER BY ALL").fetchall()
            assert old_rows
    finally:
        conn.close()
    upgraded = numbers(ltv_home)

    # The left-out payment plans stay out: the numbers are those of a home made now from the
    # orders and the recurring file alone.
    fresh = tmp_path / "fresh"
    env = {"LTV_HOME": str(fresh), "DAGSTER_HOME": str(fresh / "dagster")}
    made = ltv("import", str(ORDERS_SAMPLE), str(tmp_path / "recurring.csv"), env_extra=env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert ltv("materialize", env_extra=env).returncode == 0
    assert upgraded == numbers(Settings.from_env().model_copy(update={"home": fresh}))
    assert upgraded["subscriptions"][0] == 3

    again = ltv("materialize")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "carr" not in again.stderr
    assert "everything is up to date" in again.stdout


def _sensor_context(instance: DagsterInstance, settings: Settings):
    return build_sensor_context(
        instance=instance,
        definitions=build_definitions(),
        resources={"ltv_settings": LtvSettings.from_settings(settings)},
    )


def test_the_inbox_sensor_carries_a_home_from_before_the_rename_over(
    ltv_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A daemon started without `ltv` (dagster dev): its first tick carries over, and asks for
    no run of the files already loaded."""
    keys = make_home_before_the_rename(ltv_home, tmp_path, monkeypatch)
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        context = _sensor_context(instance, ltv_home)
        result = inbox_sensor(context)
        assert result.run_requests == []
        for former, current in OLD_NAMES.values():
            assert instance.get_materialized_partitions(AssetKey(current)) == {keys[former]}
            assert instance.get_asset_records([AssetKey(former)]) == []


def test_a_selection_by_a_former_name_says_the_new_one(ltv_home: Settings):
    """Scripts written before the rename get a precise error, not a traceback."""
    for selection, expected in (
        ("raw_samcart_recurring_subscriptions", "is now called raw_samcart_subscriptions"),
        ("key:raw_samcart_limited_subscriptions", "is now called raw_samcart_payment_plans"),
        ("raw_samcart_nothing", "matches no asset; expected an asset name"),
        ("key:(((", "(Invalid selection string: key:((()"),
    ):
        done = ltv("materialize", selection)
        assert done.returncode == 1, done.stdout + done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr


def _contract_checks(instance: DagsterInstance, asset: str) -> list[tuple[str, bool]]:
    history = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey(asset), CONTRACT_CHECK), limit=10
    )
    return [(c.run_id, c.event.dagster_event.event_specific_data.passed) for c in history]


def test_a_carry_over_killed_between_a_materialization_and_its_check_carries_the_check_next_time(
    ltv_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """kill -9 after a partition's materialization was written under the new name, before its
    contract check was: the next carry-over writes the check (the failed one of the left-out
    payment plans included), and the materialization not again."""
    make_home_before_the_rename(ltv_home, tmp_path, monkeypatch)
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        checked_before = {}
        for former, current in OLD_NAMES.values():
            checked_before[current] = _contract_checks(instance, former)
            record = instance.fetch_materializations(AssetKey(former), limit=1).records[0]
            _write_again(instance, record, AssetKey(current))  # where the kill came

        carry_over_renamed_assets(instance, load_catalog(), ltv_home.parse_failures_dir, print)

        for former, current in OLD_NAMES.values():
            assert _contract_checks(instance, current) == checked_before[current]
            assert len(instance.fetch_materializations(AssetKey(current), limit=10).records) == 1
            assert instance.get_asset_records([AssetKey(former)]) == []


CARRY_OVER_AT_THE_SIGNAL = """
import sys, time
from pathlib import Path
from dagster import DagsterInstance
from ltv_core.formats.profiles import load_catalog
from ltv_core.settings import Settings
from ltv_pipeline.defs.raw_files.renamed_assets import carry_over_renamed_assets
instance = DagsterInstance.get()
Path(sys.argv[2]).touch()
while not Path(sys.argv[1]).exists():
    time.sleep(0.005)
carry_over_renamed_assets(instance, load_catalog(), Settings.from_env().parse_failures_dir, print)
"""


def test_two_processes_carrying_over_at_once_write_each_partition_once(
    ltv_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The daemon's first tick and an `ltv` command, after an upgrade: one carries over, the
    other waits, then finds nothing left (each would write every partition again)."""
    keys = make_home_before_the_rename(ltv_home, tmp_path, monkeypatch)
    signal = tmp_path / "go"
    both = [
        subprocess.Popen(
            [sys.executable, "-c", CARRY_OVER_AT_THE_SIGNAL, str(signal), str(tmp_path / f"{n}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    while not all((tmp_path / f"{n}").exists() or both[n].poll() is not None for n in range(2)):
        time.sleep(0.05)  # both ready to start at once
    signal.touch()
    outputs = [process.communicate(timeout=120) for process in both]
    assert [process.returncode for process in both] == [0, 0], outputs
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        for former, current in OLD_NAMES.values():
            written = instance.fetch_materializations(AssetKey(current), limit=10).records
            assert [record.partition_key for record in written] == [keys[former]]
            assert len(_contract_checks(instance, current)) == 1


def test_the_inbox_sensor_waits_for_a_carry_over_under_way_elsewhere(
    ltv_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """While an `ltv` command carries over, a tick neither writes the records a second time nor
    asks for runs of the files not carried yet (they would be parsed again): it skips."""
    keys = make_home_before_the_rename(ltv_home, tmp_path, monkeypatch)
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        context = _sensor_context(instance, ltv_home)
        with _alone(Path(instance.root_directory) / CARRY_OVER_LOCK, wait=True):
            result = inbox_sensor(context)
        assert result.run_requests == []
        assert result.skip_reason is not None
        assert "carrying Dagster's records over" in result.skip_reason.skip_message
        for former, current in OLD_NAMES.values():
            assert instance.get_asset_records([AssetKey(current)]) == []
            assert instance.get_materialized_partitions(AssetKey(former)) == {keys[former]}


def _failed_partitions(instance: DagsterInstance, asset: str) -> set[str]:
    """The partitions the UI shows as failed (Dagster's own status of an asset's partitions)."""
    partitions = DynamicPartitionsDefinition(name=file_partitions_name(asset))
    status = get_and_update_asset_status_cache_value(instance, AssetKey(asset), partitions)
    assert status is not None
    return set(status.deserialize_failed_partition_subsets(partitions).get_partition_keys())


def test_a_file_that_failed_to_load_before_the_rename_shows_failed_not_missing(
    ltv_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Shown as missing, the UI would invite loading it again (and `ltv materialize` too)."""
    make_home_before_the_rename(ltv_home, tmp_path, monkeypatch)
    former, current = OLD_NAMES[RECURRING]
    before = dataclasses.replace(load_catalog().profile(RECURRING), asset=former, former_assets=())
    vanished = write_csv(tmp_path / "vanished.csv", RECURRING_SAMPLE.read_text() + "\n")
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        key = _stage(ltv_home, instance, vanished, RECURRING, former)
        (ltv_home.archive_dir / f"{inspect_file(vanished).sha256}.csv").unlink()
        assert not _materialize(instance, build_raw_file_asset(before), key).success
        assert _failed_partitions(instance, former) == {key}

        carry_over_renamed_assets(instance, load_catalog(), ltv_home.parse_failures_dir, print)
        assert _failed_partitions(instance, current) == {key}
        assert key not in instance.get_materialized_partitions(AssetKey(current))

        carry_over_renamed_assets(instance, load_catalog(), ltv_home.parse_failures_dir, print)
        storage = instance.event_log_storage
        attempts = (
            storage.get_latest_asset_partition_materialization_attempts_without_materializations(
                AssetKey(current)
            )
        )
        assert list(attempts) == [key]  # written once
