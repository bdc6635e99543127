"""The raw assets' partition lists in the Dagster UI name each file, and a home whose partitions
were keyed `<account>_<sha256>` (before keys carried names) keeps working unchanged."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
from dagster import AssetKey, instance_for_test

from ltv_core.archive import archive_file
from ltv_core.formats.csv_file import inspect_file
from ltv_core.settings import Settings
from tests.cli.test_ltv_cli import json_lines, ltv
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE

ORDERS_FILES = "raw_samcart_orders_files"  # the dynamic partitions the UI lists for the asset
SUBSCRIPTIONS_FILES = "raw_samcart_subscriptions_files"
NUMBERS = {
    "customers": "SELECT count(*), count(DISTINCT front_end_product_id) FROM customers",
    "transactions": "SELECT count(*), sum(amount) FROM transactions",
    "subscriptions": "SELECT count(*) FROM subscriptions",
    "cohort_ltv": "SELECT count(*), sum(net_revenue), sum(customers) FROM cohort_ltv",
}


def numbers(settings: Settings) -> dict[str, tuple]:
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {name: conn.execute(sql).fetchall()[0] for name, sql in NUMBERS.items()}
    finally:
        conn.close()


def partitions(settings: Settings, name: str) -> list[str]:
    with instance_for_test(temp_dir=str(settings.dagster_home)) as instance:
        return instance.get_dynamic_partitions(name)


def test_the_partition_list_of_a_raw_asset_shows_the_file_name_and_day(ltv_home: Settings):
    done = ltv("import", str(ORDERS_SAMPLE))
    assert done.returncode == 0, done.stdout + done.stderr
    sha = inspect_file(ORDERS_SAMPLE).sha256
    today = dt.datetime.now(dt.UTC).date().isoformat()
    key = f"default · {today} · {ORDERS_SAMPLE.name} · {sha[:8]}"
    assert partitions(ltv_home, ORDERS_FILES) == [key]
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        assert instance.get_materialized_partitions(AssetKey("raw_samcart_orders")) == {key}


def _make_old_home(settings: Settings) -> str:
    """ORDERS_SAMPLE archived and registered as the code before named keys did it."""
    sha = inspect_file(ORDERS_SAMPLE).sha256
    archive_file(
        settings.archive_dir,
        ORDERS_SAMPLE,
        sha,
        account="default",
        format_name="samcart-orders",
        file_name=ORDERS_SAMPLE.name,
    )
    manifest = settings.archive_dir / f"{sha}.json"
    record = json.loads(manifest.read_text())
    for arrival in record["arrivals"]:
        del arrival["partition_key"]  # what the earlier code wrote
    manifest.write_text(json.dumps(record, indent=2))
    old_key = f"default_{sha}"
    with instance_for_test(temp_dir=str(settings.dagster_home)) as instance:
        instance.add_dynamic_partitions(ORDERS_FILES, [old_key])
    return old_key


def test_a_home_with_old_keys_materializes_and_reports_the_same_numbers(
    ltv_home: Settings, tmp_path: Path
):
    old_key = _make_old_home(ltv_home)
    built = ltv("materialize")
    assert built.returncode == 0, built.stdout + built.stderr
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        assert instance.get_materialized_partitions(AssetKey("raw_samcart_orders")) == {old_key}

    # The same content again, under another name: a duplicate of the old partition, no new one.
    renamed = tmp_path / "orders-renamed.csv"
    shutil.copy(ORDERS_SAMPLE, renamed)
    again = ltv("import", str(renamed), str(RECURRING_SAMPLE), "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r["status"] for r in json_lines(again.stdout)] == ["duplicate", "loaded"]
    assert partitions(ltv_home, ORDERS_FILES) == [old_key]
    [new_key] = partitions(ltv_home, SUBSCRIPTIONS_FILES)
    assert f" · {RECURRING_SAMPLE.name} · " in new_key
    assert ltv("materialize").returncode == 0
    old_home = numbers(ltv_home)

    # A home made now from the same two files reports the same numbers.
    fresh = tmp_path / "fresh"
    env = {"LTV_HOME": str(fresh), "DAGSTER_HOME": str(fresh / "dagster")}
    made = ltv("import", str(ORDERS_SAMPLE), str(RECURRING_SAMPLE), env_extra=env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert ltv("materialize", env_extra=env).returncode == 0
    fresh_settings = Settings.from_env().model_copy(update={"home": fresh})
    assert old_home == numbers(fresh_settings)
    assert old_home["transactions"][0] > 0

    # Rebuilt from the raw rows (old and new keys together), nothing is counted twice.
    rebuilt = ltv("materialize", "--full")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert numbers(ltv_home) == old_home
