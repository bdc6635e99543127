"""Declarative automation: new raw data requests the model and every mart, once; a running
sensor (not Dagster's default one, which starts stopped) carries it under `dagster dev`."""

from __future__ import annotations

from dagster import (
    AssetKey,
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    evaluate_automation_conditions,
    instance_for_test,
    materialize,
)

from ltv_core.settings import Settings
from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.marts.build import MARTS
from ltv_pipeline.defs.model.assets import build_model_assets
from tests.model.dagster_runs import build_model_and_marts, import_csv
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE, warehouse_held

# Every model asset and every mart, from the lists the pipeline itself is built from.
MODEL_AND_MARTS = {
    key.to_user_string() for a in build_model_assets("email") for key in a.keys
} | set(MARTS)


def requested(result) -> set[str]:
    """What the tick requests, the whole model step included when any of its tables is due."""
    return {r.key.to_user_string() for r in result.results if result.get_num_requested(r.key) > 0}


def orders_imported_and_requested(settings: Settings, instance: DagsterInstance, defs: Definitions):
    """An empty home's first tick, the Orders sample imported, and the tick that asks for the
    model and marts for it (its result, for the next tick's cursor)."""
    empty = evaluate_automation_conditions(defs=defs, instance=instance)
    import_csv(settings, instance, ORDERS_SAMPLE)
    first = evaluate_automation_conditions(defs=defs, instance=instance, cursor=empty.cursor)
    assert requested(first) >= MODEL_AND_MARTS
    return first


def test_new_raw_data_requests_the_model_and_marts_once(ltv_home):
    defs = build_definitions()
    sensor = defs.get_sensor_def("ltv_model_and_marts_automation")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        # The sensor ticks before any data arrives, then again after an import.
        empty = evaluate_automation_conditions(defs=defs, instance=instance)
        import_csv(ltv_home, instance, ORDERS_SAMPLE)
        first = evaluate_automation_conditions(defs=defs, instance=instance, cursor=empty.cursor)
        # The model is one step: an Orders export alone also builds (empty) subscriptions,
        # so the first automatic run cannot fail on their absence.
        assert requested(first) >= MODEL_AND_MARTS
        build_model_and_marts(instance)
        settled = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested(settled) & MODEL_AND_MARTS == set()
        import_csv(ltv_home, instance, RECURRING_SAMPLE)
        again = evaluate_automation_conditions(defs=defs, instance=instance, cursor=settled.cursor)
        assert AssetKey("subscriptions") in {AssetKey(k) for k in requested(again)}


def test_a_changed_customer_key_rule_rebuilds_the_model(ltv_home, monkeypatch):
    """The model's code version names the LTV_CUSTOMER_KEY rule: after a restart with another
    rule, the running sensor rebuilds the model (and then the marts) without new raw data."""
    model = {key.to_user_string() for a in build_model_assets("email") for key in a.keys}
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        defs = build_definitions()
        import_csv(ltv_home, instance, ORDERS_SAMPLE)
        first = evaluate_automation_conditions(defs=defs, instance=instance)
        build_model_and_marts(instance)
        settled = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested(settled) & MODEL_AND_MARTS == set()
        monkeypatch.setenv("LTV_CUSTOMER_KEY", "gmail-folded")
        restarted = build_definitions()
        changed = evaluate_automation_conditions(
            defs=restarted, instance=instance, cursor=settled.cursor
        )
        assert requested(changed) >= model
        # The same rule again is no reason to rebuild.
        build_model_and_marts(instance)
        quiet = evaluate_automation_conditions(
            defs=restarted, instance=instance, cursor=changed.cursor
        )
        assert requested(quiet) & MODEL_AND_MARTS == set()


def model_run_while_the_warehouse_is_held(settings, instance, monkeypatch) -> bool:
    """One model-and-marts run while another process holds the warehouse (a DuckDB shell left
    open, say) past the busy timeout: it fails for real. Returns whether it succeeded."""
    monkeypatch.setenv("LTV_BUSY_TIMEOUT_SECONDS", "0.5")
    try:
        defs = build_definitions()
        selected = [
            a for a in defs.assets if {k.to_user_string() for k in a.keys} & MODEL_AND_MARTS
        ]
        with warehouse_held(settings.warehouse_path):
            return materialize(
                selected, instance=instance, resources=dict(defs.resources), raise_on_error=False
            ).success
    finally:
        monkeypatch.delenv("LTV_BUSY_TIMEOUT_SECONDS")


def test_a_failed_model_run_is_requested_again_once(ltv_home, monkeypatch):
    """A model run that failed (here: another process held the warehouse; a killed run is
    marked failed the same way) is requested again on the next tick, without new raw
    data; if that retry fails too, it is not retried for ever, only after new input."""
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        defs = build_definitions()
        first = orders_imported_and_requested(ltv_home, instance, defs)
        assert not model_run_while_the_warehouse_is_held(ltv_home, instance, monkeypatch)
        retry = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested(retry) >= MODEL_AND_MARTS
        assert not model_run_while_the_warehouse_is_held(ltv_home, instance, monkeypatch)
        after_retry = evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=retry.cursor
        )
        quiet = evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=after_retry.cursor
        )
        assert requested(after_retry) & MODEL_AND_MARTS == set()
        assert requested(quiet) & MODEL_AND_MARTS == set()
        # New input earns the failed model another attempt, which now succeeds and settles.
        import_csv(ltv_home, instance, RECURRING_SAMPLE)
        fresh = evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
        assert requested(fresh) >= MODEL_AND_MARTS
        build_model_and_marts(instance)
        settled = evaluate_automation_conditions(defs=defs, instance=instance, cursor=fresh.cursor)
        assert requested(settled) & MODEL_AND_MARTS == set()


def test_raw_input_that_lands_as_the_model_run_ends_is_not_lost(ltv_home):
    """A file imported after the model's run read the raw tables, seen on the same tick as that
    run's own update: Dagster's since_last_handled() alone counts the update as handling it,
    and the model stayed behind until the next delivery (the journey test caught it in CI)."""
    defs = build_definitions()
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        first = orders_imported_and_requested(ltv_home, instance, defs)
        build_model_and_marts(instance)
        import_csv(ltv_home, instance, RECURRING_SAMPLE)  # lands before the next tick
        both = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested(both) >= MODEL_AND_MARTS
        build_model_and_marts(instance)
        settled = evaluate_automation_conditions(defs=defs, instance=instance, cursor=both.cursor)
        assert requested(settled) & MODEL_AND_MARTS == set()


def test_raw_input_that_lands_while_the_model_runs_is_not_lost(ltv_home):
    """A file imported while the model's run is still going (so nothing can be requested yet),
    and that run then ends: its update must not count as having handled the file."""
    defs = build_definitions()
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        first = orders_imported_and_requested(ltv_home, instance, defs)
        import_csv(ltv_home, instance, RECURRING_SAMPLE)  # the model's run has not ended
        during = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        build_model_and_marts(instance)  # ... and now it ends, having read only the Orders
        after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=during.cursor)
        assert requested(during) | requested(after) >= MODEL_AND_MARTS
        build_model_and_marts(instance)
        settled = evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
        quiet = evaluate_automation_conditions(defs=defs, instance=instance, cursor=settled.cursor)
        assert requested(settled) & MODEL_AND_MARTS == set()
        assert requested(quiet) & MODEL_AND_MARTS == set()
