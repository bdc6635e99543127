"""The unified model is one Dagster step: built whole after an Orders export alone, then
incrementally (its metadata says so, and how many customers it rebuilt), from scratch when the
run asks; and a step that fails half way leaves the previous model in place rather than a mix of
old and new."""

from __future__ import annotations

import duckdb
import pytest
from dagster import AssetKey, instance_for_test, materialize

from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.model import build as model_build
from ltv_pipeline.lib.full_rebuild import FULL_REBUILD_TAGS
from tests.marts.cases import order_row, write_orders
from tests.model.dagster_runs import build_model_and_marts, import_csv
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE


@pytest.fixture
def instance(ltv_home):
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        yield instance


def counts(settings) -> tuple[int, int]:
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return conn.execute(
            "SELECT (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM transactions)"
        ).fetchall()[0]
    finally:
        conn.close()


def materialize_model(instance, tags=None):
    defs = build_definitions()
    model = [a for a in defs.assets if AssetKey("transactions") in a.keys]
    return materialize(
        model, instance=instance, resources=dict(defs.resources), raise_on_error=False, tags=tags
    )


def build_metadata(instance) -> dict:
    event = instance.get_latest_materialization_event(AssetKey("transactions"))
    metadata = event.asset_materialization.metadata
    return {k: metadata[k].value for k in ("build", "customers_touched", "full_rebuild_reason")}


def test_an_orders_export_alone_builds_the_whole_model(ltv_home, instance):
    import_csv(ltv_home, instance, ORDERS_SAMPLE)
    assert materialize_model(instance).success
    subscriptions, transactions = counts(ltv_home)
    # Ten order lines, one of them Refunded: ten order-line transactions and one refund.
    assert subscriptions == 0 and transactions == 11
    for table in ("subscriptions", "transactions", "declined_charges", "customers"):
        assert instance.get_latest_materialization_event(AssetKey(table)) is not None, table


def test_a_model_step_that_fails_half_way_leaves_the_previous_model(
    ltv_home, instance, monkeypatch
):
    import_csv(ltv_home, instance, ORDERS_SAMPLE)
    build_model_and_marts(instance)
    before = counts(ltv_home)
    assert before[0] == 0
    import_csv(ltv_home, instance, RECURRING_SAMPLE)

    def broken(*args):
        raise RuntimeError("the last step failed")

    # The very last thing the step writes, after every table: nothing of it may stay.
    monkeypatch.setattr(model_build, "record_inputs", broken)
    assert not materialize_model(instance).success
    # subscriptions and transactions were rebuilt inside the step, then rolled back with it.
    assert counts(ltv_home) == before


def test_a_new_export_is_built_incrementally_and_a_tagged_run_from_scratch(
    ltv_home, instance, tmp_path
):
    import_csv(ltv_home, instance, ORDERS_SAMPLE)
    assert materialize_model(instance).success
    assert build_metadata(instance)["build"] == "full"
    new_customer = [order_row(1, "03/01/2024", 10, 10, "newcomer@x.io")]
    import_csv(ltv_home, instance, write_orders(tmp_path / "new.csv", new_customer))
    assert materialize_model(instance).success
    assert build_metadata(instance) == {
        "build": "incremental",
        "customers_touched": 1,
        "full_rebuild_reason": "none",
    }
    assert materialize_model(instance, tags=FULL_REBUILD_TAGS).success
    assert build_metadata(instance)["full_rebuild_reason"] == "asked for"
