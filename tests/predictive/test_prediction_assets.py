"""The predictive LTV assets, materialized by Dagster on the CDNOW sample (plus a few young
customers, so that cohort_ltv has right-censored cells, and a tiny second account), read back
from the warehouse and by `ltv predict`."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import duckdb
import pytest
from dagster import AssetKey, AssetSelection, materialize

from ltv_pipeline.cli.main import main
from ltv_pipeline.definitions import build_definitions
from ltv_pipeline.defs.model.automation import MARTS_GROUP, MODEL_GROUP
from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from ltv_pipeline.metrics.predictive.prediction import predict
from tests.marts.cases import order_row, warehouse, write_orders
from tests.model.loading import load_csv, rebuild
from tests.predictive.cdnow import cdnow_order_rows

PREDICTION_KEYS = {
    AssetKey(k) for k in ("ltv_model_fits", "predicted_customer_ltv", "cohort_ltv_projected")
}
LATEST = dt.date(1998, 6, 30)  # CDNOW's last day
# Two young customers (the 1998-06 cohort): A bought on 06-20 ($20) and 06-25 ($30), B on
# 06-28 ($40). On 06-30 they are 10 and 2 days old: every day-7+ cell of their cohort is censored.
YOUNG = [
    order_row(900001, "06/20/1998", 1, 20.0, "young-a@example.com"),
    order_row(900002, "06/25/1998", 1, 30.0, "young-a@example.com"),
    order_row(900003, "06/28/1998", 1, 40.0, "young-b@example.com"),
]
TINY = [
    order_row(800000 + i, f"03/{i + 1:02d}/1998", 1, 10.0, f"t{i % 4}@example.com")
    for i in range(8)
]


def load(settings, tmp_path) -> None:
    rows = cdnow_order_rows()
    with warehouse(settings) as conn:
        load_csv(conn, settings, write_orders(tmp_path / "cdnow.csv", [*rows, *YOUNG]))
        load_csv(conn, settings, write_orders(tmp_path / "tiny.csv", TINY), account="tiny")
        rebuild(conn)


def materialize_predictions(instance) -> None:
    defs = build_definitions()
    assets = [a for a in defs.assets if set(a.keys) & PREDICTION_KEYS]
    assert materialize(assets, instance=instance, resources=dict(defs.resources)).success


def predict_json(*args: str, capsys) -> dict:
    assert main(["predict", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def predicted(ltv_home, tmp_path):
    from dagster import instance_for_test

    load(ltv_home, tmp_path)
    with instance_for_test(temp_dir=str(ltv_home.dagster_home)) as instance:
        materialize_predictions(instance)
    return duckdb.connect(str(ltv_home.warehouse_path), read_only=True)


def test_the_stored_fit_is_the_fit_of_predict_on_the_same_data(predicted, capsys):
    conn = predicted
    fit = conn.execute(
        "SELECT calibration_end, time_unit, customers, reliable, reason, r, alpha, a, b, "
        "log_likelihood, p, q, gamma FROM ltv_model_fits WHERE account = 'default'"
    ).fetchall()[0]
    assert fit[:5] == (LATEST, "day", 2359, True, None)
    fresh = predict(conn, "default", LATEST, "day")
    expected = [fresh["bgnbd"][n] for n in ("r", "alpha", "a", "b", "log_likelihood")]
    expected += [fresh["gamma_gamma"][n] for n in ("p", "q", "gamma")]
    assert list(fit[5:]) == pytest.approx(expected, rel=1e-5)
    conn.close()
    # `ltv predict` reads it; in weeks it is the same model: alpha / 7, the others unchanged,
    # the log-likelihood + ln 7 per repeat purchase; a week fit on the same data agrees.
    stored = predict_json("--account", "default", "--time-unit", "week", capsys=capsys)
    refit = predict_json(
        "--account",
        "default",
        "--calibration-end",
        "1998-06-30",
        "--time-unit",
        "week",
        capsys=capsys,
    )
    assert stored["calibration_end"] == "1998-06-30" and stored["holdout"] is None
    assert stored["bgnbd"]["alpha"] == pytest.approx(fit[6] / 7, rel=1e-5)
    for name in ("r", "alpha", "a", "b", "log_likelihood"):
        assert stored["bgnbd"][name] == pytest.approx(refit["bgnbd"][name], rel=1e-3), name
    assert stored["gamma_gamma"]["customers"] == refit["gamma_gamma"]["customers"]
    assert stored["customers"] == 2359 and stored["fitted_at"].endswith("Z")
    # Two accounts: the account must be named.
    assert main(["predict"]) == 2
    assert "pass --account (one of default, tiny)" in capsys.readouterr().err


def test_a_tiny_account_is_unreliable_with_null_predictions_and_the_reason(predicted):
    conn = predicted
    fit = conn.execute(
        "SELECT reliable, reason, r, alpha, a, b, log_likelihood, p, q, gamma "
        "FROM ltv_model_fits WHERE account = 'tiny'"
    ).fetchall()[0]
    assert fit[0] is False and "repeat customers" in fit[1] and set(fit[2:]) == {None}
    rows = conn.execute(
        "SELECT frequency, p_alive, expected_purchases_365, expected_value_90 "
        "FROM predicted_customer_ltv WHERE account = 'tiny' ORDER BY customer_key"
    ).fetchall()
    assert [r[0] for r in rows] == [1, 1, 1, 1]
    assert {r[1:] for r in rows} == {(None, None, None)}
    cells = conn.execute(
        "SELECT DISTINCT reliable, projected_net_ltv FROM cohort_ltv_projected "
        "WHERE account = 'tiny'"
    ).fetchall()
    assert cells in ([], [(False, None)])


def test_customer_predictions_are_the_models_expectations(predicted):
    conn = predicted
    params = conn.execute(
        "SELECT r, alpha, a, b, p, q, gamma FROM ltv_model_fits WHERE account = 'default'"
    ).fetchall()[0]
    bg, gg = params[:4], params[4:]
    row = conn.execute(
        'SELECT frequency, recency, "T", p_alive, expected_purchases_180, expected_value_365, '
        "first_purchase_day FROM predicted_customer_ltv "
        "WHERE customer_key = 'young-a@example.com'"
    ).fetchall()[0]
    # A: x = 1 (06-25), t_x = 5 days, T = 10 days, m_x = $30.
    assert row[:3] == (1, 5.0, 10.0) and row[6] == dt.date(1998, 6, 20)
    assert row[3] == pytest.approx(bgnbd.probability_alive(bg, 1, 5, 10), rel=1e-9)
    assert row[4] == pytest.approx(bgnbd.conditional_expected_purchases(bg, 180, 1, 5, 10)[()])
    value = (
        bgnbd.conditional_expected_purchases(bg, 365, 1, 5, 10)[()]
        * (gamma_gamma.expected_average_value(gg, 1, 30.0)[()])
    )
    assert row[5] == Decimal(f"{value:.2f}")
    assert conn.execute("SELECT count(*) FROM predicted_customer_ltv").fetchall()[0][0] == 2363


def test_projected_cells_are_the_censored_cells_and_equal_a_hand_computation(predicted):
    conn = predicted
    censored = set(
        conn.execute(
            "SELECT account, cohort_start, period, cohort, horizon FROM cohort_ltv "
            "WHERE censored AND horizon <> 'all'"
        ).fetchall()
    )
    projected = set(
        conn.execute(
            "SELECT account, cohort_start, period, cohort, horizon FROM cohort_ltv_projected"
        ).fetchall()
    )
    assert censored and projected == censored
    bg_gg = conn.execute(
        "SELECT r, alpha, a, b, p, q, gamma FROM ltv_model_fits WHERE account = 'default'"
    ).fetchall()[0]
    bg, gg = bg_gg[:4], bg_gg[4:]

    def expected_value(days, x, t_x, T, m_x):
        purchases = bgnbd.conditional_expected_purchases(bg, days, x, t_x, T)[()]
        return purchases * gamma_gamma.expected_average_value(gg, x, m_x)[()]

    # Day 30 of the 1998-06 cohort: A is 10 days old ($50 to date, 20 days to model), B is 2
    # ($40 to date, 28 days to model).
    a = 50 + expected_value(20, 1, 5, 10, 30.0)
    b = 40 + expected_value(28, 0, 0, 2, 0.0)
    cell = conn.execute(
        "SELECT projected_net_ltv, customers, reliable, fitted_at IS NOT NULL "
        "FROM cohort_ltv_projected WHERE account = 'default' AND cohort_start = 'first_order' "
        "AND period = 'month' AND cohort = '1998-06' AND horizon = 'd30'"
    ).fetchall()
    assert cell == [(Decimal(f"{(a + b) / 2:.2f}"), 2, True, True)]
    # A's own day cohort: she is 10 days old, so its day-7 cell is observed, not projected.
    day7 = conn.execute(
        "SELECT count(*) FROM cohort_ltv_projected WHERE period = 'day' AND cohort = '1998-06-20' "
        "AND cohort_start = 'first_order'"
    ).fetchall()[0][0]
    assert day7 == 5  # d30, d60, d90, d180, d365: d7 is observed for a 10-day-old customer


def test_the_daily_sensor_targets_only_the_predictions_and_the_model_sensor_never_does(ltv_home):
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    sensors = {s.name: s for s in defs.sensors}
    daily = sensors["ltv_predictions_daily"]
    model = sensors["ltv_model_and_marts_automation"]
    assert daily.asset_selection.resolve(graph) == PREDICTION_KEYS
    assert not model.asset_selection.resolve(graph) & PREDICTION_KEYS
    assert not AssetSelection.groups(MODEL_GROUP, MARTS_GROUP).resolve(graph) & PREDICTION_KEYS
    for key in PREDICTION_KEYS:
        label = graph.get(key).automation_condition.get_label()
        assert "0 4 * * *" in label and "daily" in label
