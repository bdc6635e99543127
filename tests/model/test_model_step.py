"""The unified model is one Dagster step: built whole after an Orders export alone, and a step
that fails half way leaves the previous model in place rather than a mix of old and new."""

from __future__ import annotations

import duckdb
import pytest
from dagster import AssetKey, instance_for_test, materialize

from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.model import assets as model_assets
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


def materialize_model(instance):
    defs = build_definitions()
    model = [a for a in defs.assets if AssetKey("transactions") in a.keys]
    return materialize(
        model, instance=instance, resources=dict(defs.resources), raise_on_error=False
    )


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

    def broken(conn):
        raise RuntimeError("customers failed")

    monkeypatch.setattr(model_assets, "build_customers", broken)
    assert not materialize_model(instance).success
    # subscriptions and transactions were rebuilt inside the step, then rolled back with it.
    assert counts(ltv_home) == before
