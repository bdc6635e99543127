"""Blocking means blocking: a raw partition whose contract check failed is left out of the model
(built from the others) until a materialization of it passes, and the model's metadata, the
automation sensor, `ltv materialize` and the published snapshot all say so."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from dagster import AssetKey, evaluate_automation_conditions, instance_for_test

from ltv_core.archive import partition_key_of
from ltv_core.formats.csv_file import inspect_file
from ltv_core.published_reports import read_published
from ltv_pipeline.contracts import raw_files as raw_files_contract
from ltv_pipeline.definitions import build_definitions
from tests.cli.test_ltv_cli import ltv
from tests.defs.test_raw_file_assets import run, stage
from tests.marts.test_automation import requested
from tests.model.dagster_runs import build_model_and_marts, import_csv
from tests.support import ORDERS_SAMPLE

MODEL = {"subscriptions", "transactions", "declined_charges", "customers"}


def write_orders_of_its_own(path: Path) -> Path:
    """The Orders sample with order ids of its own (the sample's, with a 9 before them)."""
    header, *rows = ORDERS_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\n".join([header, *("9" + row for row in rows)]) + "\n", encoding="utf-8")
    return path


def run_failing_its_contract(monkeypatch, instance, staged: tuple[str, str]):
    """Materialize a partition under a stricter contract, as a pipeline defect would make it
    fail: the stored DECIMAL prices break a Float64 contract as a column, which no reject can
    fix."""
    with monkeypatch.context() as patched:
        patched.setitem(raw_files_contract.POLARS_TYPES, "money", pl.Float64)
        return run(instance, *staged)


def order_ids(settings, table: str = "transactions") -> set[str]:
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {row[0] for row in conn.execute(f"SELECT DISTINCT order_id FROM {table}").fetchall()}
    finally:
        conn.close()


def test_a_file_failing_its_contract_is_left_out_and_does_not_request_the_model(
    ltv_home, tmp_path, monkeypatch
):
    failing = write_orders_of_its_own(tmp_path / "orders-9.csv")
    defs = build_definitions()
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        import_csv(ltv_home, instance, ORDERS_SAMPLE)
        first = evaluate_automation_conditions(defs=defs, instance=instance)
        build_model_and_marts(instance)
        settled = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested(settled) & MODEL == set()

        # Dagster fails the run of a partition whose blocking check fails; its rows are stored.
        staged = stage(ltv_home, instance, failing, "samcart-orders")
        left_out_key = partition_key_of(
            ltv_home.archive_dir, inspect_file(failing).sha256, "default"
        )
        result = run_failing_its_contract(monkeypatch, instance, staged)
        assert [c.passed for c in result.get_asset_check_evaluations()] == [False]
        assert any(i.startswith("9") for i in order_ids(ltv_home, "raw_samcart_orders"))
        after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=settled.cursor)
        # ... which is no reason to rebuild the model.
        assert requested(after) & MODEL == set()

        # Whatever rebuilds the model next (here, by hand) builds it from the other files only.
        build_model_and_marts(instance)
        ids = order_ids(ltv_home)
        assert ids and not any(i.startswith("9") for i in ids)
        model = instance.get_latest_materialization_event(AssetKey("transactions"))
        metadata = model.asset_materialization.metadata
        assert metadata["left_out_partitions"].value == 1
        assert f"raw_samcart_orders [{left_out_key}]" in metadata["left_out"].value
        assert "contract failure(s) among the stored rows" in metadata["left_out"].value

    published = read_published(ltv_home.published_dir)
    assert published is not None
    [listed] = published["left_out"]
    assert listed["asset"] == "raw_samcart_orders" and listed["partition"] == left_out_key
    assert "contract failure(s) among the stored rows" in listed["reason"]


def test_a_partition_that_passes_again_is_back_in(ltv_home, monkeypatch):
    """A re-parse that passes takes the partition off the list, and its rows are in again."""
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        staged = stage(ltv_home, instance, ORDERS_SAMPLE, "samcart-orders")
        failed = run_failing_its_contract(monkeypatch, instance, staged)
        assert not failed.get_asset_check_evaluations()[0].passed
        build_model_and_marts(instance)
        assert order_ids(ltv_home) == set()
        assert len(read_published(ltv_home.published_dir)["left_out"]) == 1

        defs = build_definitions()
        before = evaluate_automation_conditions(defs=defs, instance=instance)
        assert run(instance, *staged).success  # the same partition, parsed again
        again = evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
        assert requested(again) >= MODEL
        build_model_and_marts(instance)
        assert "100200100" in order_ids(ltv_home)
        assert read_published(ltv_home.published_dir)["left_out"] == []


def test_ltv_materialize_prints_what_is_left_out(ltv_home, tmp_path, monkeypatch):
    """The partition fails its contract here (in this process, where the contract can be made
    stricter); `ltv materialize` then builds the model without it and says so."""
    failing = write_orders_of_its_own(tmp_path / "orders-9.csv")
    ltv("import", str(ORDERS_SAMPLE))
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        staged = stage(ltv_home, instance, failing, "samcart-orders")
        assert not run_failing_its_contract(monkeypatch, instance, staged).success
    done = ltv("materialize")
    key = partition_key_of(ltv_home.archive_dir, inspect_file(failing).sha256, "default")
    [line] = [line for line in done.stdout.splitlines() if line.startswith("left out")]
    assert line.startswith(
        f"left out of the model until its contract check passes: raw_samcart_orders [{key}]: "
    ), done.stdout
    assert "contract failure(s) among the stored rows, the first: price failed" in line
