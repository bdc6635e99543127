"""A daily refresh asks the warehouse for the customer summaries once (the fit), not once per
table made from the fit: the predictions score the summaries stored with the fit, and the
projection reads them from the predictions. Checked by emptying `transactions`, the one table
the summaries are made from, after the fit: what is made afterwards must not change. And a home
whose prediction tables an earlier version wrote still refreshes, to the same numbers."""

from __future__ import annotations

import duckdb
import pytest
from dagster import AssetKey, instance_for_test, materialize

from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from ltv_pipeline.metrics.predictive.tables import (
    FIT_PARAMETERS,
    FITS_TABLE,
    PREDICTIONS_TABLE,
    PROJECTED_TABLE,
    SUMMARIES_TABLE,
)
from tests.predictive.test_prediction_assets import load

# Every column but the fit's time (each materialization stamps its own) and monetary, which an
# earlier version did not store.
SNAPSHOTS = {
    PREDICTIONS_TABLE: f"SELECT * EXCLUDE (fitted_at, monetary) FROM {PREDICTIONS_TABLE}",
    PROJECTED_TABLE: f"SELECT * EXCLUDE (fitted_at) FROM {PROJECTED_TABLE}",
}


def run(instance, *names: str):
    defs = build_definitions()
    keys = {AssetKey(name) for name in names}
    assets = [a for a in defs.assets if set(a.keys) & keys]
    return materialize(
        assets, instance=instance, resources=dict(defs.resources), raise_on_error=False
    )


def failure(result) -> str:
    assert not result.success
    return " | ".join(
        e.step_failure_data.error.cause.message
        for e in result.all_events
        if e.is_step_failure and e.step_failure_data.error.cause is not None
    )


def snapshot(settings) -> dict[str, list]:
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {t: sorted(conn.execute(sql).fetchall()) for t, sql in SNAPSHOTS.items()}
    finally:
        conn.close()


def execute(settings, *statements: str) -> None:
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def refreshed(ltv_home, tmp_path):
    """The CDNOW sample refreshed once; the instance and what the tables held."""
    load(ltv_home, tmp_path)
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        assert run(instance, FITS_TABLE, PREDICTIONS_TABLE, PROJECTED_TABLE).success
        made = snapshot(ltv_home)
        assert made[PREDICTIONS_TABLE] and made[PROJECTED_TABLE]
        yield instance, made


def test_predictions_and_projection_do_not_ask_the_warehouse_for_the_summaries(refreshed, ltv_home):
    instance, made = refreshed
    execute(ltv_home, "DELETE FROM transactions")
    assert run(instance, PREDICTIONS_TABLE, PROJECTED_TABLE).success
    assert snapshot(ltv_home) == made


def test_a_home_an_earlier_version_wrote_refreshes_to_the_same_numbers(refreshed, ltv_home):
    instance, made = refreshed
    earlier = (
        f"ALTER TABLE {PREDICTIONS_TABLE} DROP COLUMN monetary",
        f"DROP TABLE IF EXISTS {SUMMARIES_TABLE}",
    )
    execute(ltv_home, *earlier)
    # The projection alone cannot read predictions without monetary: it says what to do.
    error = failure(run(instance, PROJECTED_TABLE))
    assert "predicted_customer_ltv was made by an earlier version" in error
    assert "materialize predicted_customer_ltv, then cohort_ltv_projected" in error
    # The predictions rebuilt from the fit an earlier version stored (no summaries beside it):
    # the summaries are asked for at its calibration end, and every number is the same.
    assert run(instance, PREDICTIONS_TABLE, PROJECTED_TABLE).success
    assert snapshot(ltv_home) == made
    # The daily refresh over such a home.
    execute(ltv_home, *earlier)
    assert run(instance, FITS_TABLE, PREDICTIONS_TABLE, PROJECTED_TABLE).success
    assert snapshot(ltv_home) == made


def test_the_projection_refuses_predictions_of_an_earlier_fit(refreshed, ltv_home):
    instance, _ = refreshed
    assert run(instance, FITS_TABLE).success  # a run stopped after the fit
    error = failure(run(instance, PROJECTED_TABLE))
    assert "predicted_customer_ltv of account 'default' was made from the fit of" in error
    assert "not from the stored fit of" in error


def test_the_fits_table_names_the_models_parameters():
    assert (*bgnbd.PARAMETERS, "log_likelihood", *gamma_gamma.PARAMETERS) == FIT_PARAMETERS
