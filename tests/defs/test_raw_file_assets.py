"""Raw file assets materialized by Dagster against a temporary real warehouse and instance."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, instance_for_test, materialize

from ltv_core.archive import archive_file, partition_key_of
from ltv_core.file_results import read_result
from ltv_core.formats.csv_file import inspect_file
from ltv_core.formats.profiles import load_catalog
from ltv_core.settings import Settings
from ltv_pipeline.contracts import raw_files as raw_files_contract
from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.raw_files.partitions import file_partitions_name
from tests.support import LIMITED_SAMPLE, ORDERS_SAMPLE, RECURRING_SAMPLE, write_csv

SAMPLES = {
    "samcart-orders": ORDERS_SAMPLE,
    "samcart-recurring-subscriptions": RECURRING_SAMPLE,
    "samcart-limited-subscriptions": LIMITED_SAMPLE,
}


@pytest.fixture
def instance(ltv_home: Settings):
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        yield instance


def stage(
    settings: Settings,
    instance: DagsterInstance,
    path: Path,
    format_name: str,
    account: str = "default",
) -> tuple[str, str]:
    """Archive a file and register its partition, as the sensor does; returns (asset, key)."""
    sha = inspect_file(path).sha256
    archive_file(
        settings.archive_dir,
        path,
        sha,
        account=account,
        format_name=format_name,
        file_name=path.name,
    )
    asset = load_catalog().profile(format_name).asset
    key = partition_key_of(settings.archive_dir, sha, account)
    instance.add_dynamic_partitions(file_partitions_name(asset), [key])
    return asset, key


def run(instance: DagsterInstance, asset: str, key: str):
    defs = build_definitions()
    assets_def = next(a for a in defs.assets if AssetKey(asset) in a.keys)
    return materialize(
        [assets_def],
        instance=instance,
        partition_key=key,
        resources=dict(defs.resources),
        raise_on_error=False,
    )


def snapshot(settings: Settings) -> dict[str, list]:
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        tables = [r[0] for r in conn.execute("SHOW TABLES").fetchall()]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    finally:
        conn.close()


def test_each_raw_asset_materializes_its_file_with_a_passing_contract(ltv_home, instance):
    for format_name, path in SAMPLES.items():
        asset, key = stage(ltv_home, instance, path, format_name)
        result = run(instance, asset, key)
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert [c.passed for c in checks] == [True]
        materialization = result.asset_materializations_for_node(asset)[0]
        assert materialization.metadata["dagster/row_count"].value == {"samcart-orders": 10}.get(
            format_name, 3
        )
        preview = materialization.metadata["preview"].value
        assert "***@" in preview or format_name != "samcart-orders"
        assert "ada.lovelace@example.com" not in preview  # no email addresses in run history
        stored = read_result(ltv_home.results_dir, inspect_file(path).sha256)
        assert stored is not None and stored.status == "loaded"


def test_a_backfill_rerun_gives_identical_tables(ltv_home, instance, tmp_path):
    messy = write_csv(
        tmp_path / "orders.csv",
        ORDERS_SAMPLE.read_text(encoding="utf-8-sig") + "bad,02/30/2024\n",
        bom=True,
        crlf=True,
    )
    staged = [
        stage(ltv_home, instance, messy, "samcart-orders"),
        stage(ltv_home, instance, LIMITED_SAMPLE, "samcart-limited-subscriptions"),
    ]
    for asset, key in staged:
        assert run(instance, asset, key).success
    first = snapshot(ltv_home)
    for asset, key in staged:
        assert run(instance, asset, key).success
    assert snapshot(ltv_home) == first
    assert len(first["rejects"]) >= 1


def test_the_contract_check_fails_when_stored_rows_break_it_as_a_whole(
    ltv_home, instance, monkeypatch
):
    """Row failures become rejects; a failure of the stored column itself fails the check."""
    asset, key = stage(ltv_home, instance, ORDERS_SAMPLE, "samcart-orders")
    assert run(instance, asset, key).success
    # A contract that wants prices as floats: the stored DECIMAL column breaks it as a column,
    # which no reject can fix, so the check must fail rather than trust the load.
    monkeypatch.setitem(raw_files_contract.POLARS_TYPES, "money", pl.Float64)
    result = run(instance, asset, key)
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert evaluation.metadata["failure_count"].value >= 1
    assert "Float64" in evaluation.metadata["failure_cases"].value


def test_a_file_that_vanished_from_the_archive_fails_with_a_result(ltv_home, instance):
    asset, key = stage(ltv_home, instance, ORDERS_SAMPLE, "samcart-orders")
    sha = inspect_file(ORDERS_SAMPLE).sha256
    (ltv_home.archive_dir / f"{sha}.csv").unlink()
    assert not run(instance, asset, key).success
    stored = read_result(ltv_home.results_dir, sha)
    assert stored is not None and stored.status == "failed"
    shutil.rmtree(ltv_home.archive_dir)
