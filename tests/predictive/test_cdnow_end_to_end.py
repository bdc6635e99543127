"""The CDNOW sample as a SamCart Orders export, through the raw and model code and `ltv predict`,
gives the papers' parameters: the summaries from the unified model are the papers' own."""

from __future__ import annotations

import json

import pytest

from ltv_pipeline.cli.main import main
from ltv_pipeline.metrics.predictive import bgnbd
from tests.marts.cases import order_row, warehouse, write_orders
from tests.model.loading import load_csv, rebuild
from tests.predictive.cdnow import (
    CALIBRATION_END,
    cdnow_order_rows,
    cdnow_purchases,
    cdnow_summaries,
)


def load_cdnow(settings, tmp_path, extra_rows=()) -> None:
    rows = cdnow_order_rows()
    with warehouse(settings) as conn:
        load_csv(conn, settings, write_orders(tmp_path / "cdnow.csv", [*rows, *extra_rows]))
        rebuild(conn)


def predict_json(*args: str, capsys) -> dict:
    assert main(["predict", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ltv_predict_on_cdnow_gives_the_papers_parameters(ltv_home, tmp_path, capsys):
    load_cdnow(ltv_home, tmp_path)
    result = predict_json("--calibration-end", "1997-09-30", "--time-unit", "week", capsys=capsys)
    bg, gg = result["bgnbd"], result["gamma_gamma"]
    assert (result["calibration_end"], result["time_unit"], result["customers"]) == (
        "1997-09-30",
        "week",
        2357,
    )
    assert (round(bg["r"], 3), round(bg["alpha"], 3), round(bg["a"], 3), round(bg["b"], 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert (round(gg["p"], 2), round(gg["q"], 2), round(gg["gamma"], 2)) == (6.25, 3.74, 15.44)
    assert gg["customers"] == 946 and bg["reliable"] and gg["reliable"]
    holdout = result["holdout"]
    # To the sample's last day (the papers' 39-week holdout), counted from the file itself.
    purchases = cdnow_purchases()
    later = {(p.customer, p.day) for p in purchases if p.day > CALIBRATION_END}
    assert holdout["end"] == "1998-06-30"
    assert holdout["actual_repeat_purchases"] == len(later)
    # The expectation over the papers' 39 holdout weeks at the papers' parameters, from the
    # summaries made in plain Python; BG/NBD under-forecasts CDNOW's holdout a little (1,653
    # against 1,882 repeat purchase days), as the paper's tracking plot shows.
    s = cdnow_summaries()
    expected = bgnbd.conditional_expected_purchases(
        (bg["r"], bg["alpha"], bg["a"], bg["b"]), 39, s["x"], s["t_x"], s["T"]
    )
    assert holdout["predicted_repeat_purchases"] == pytest.approx(expected.sum(), abs=0.01)
    assert 0.85 < holdout["predicted_repeat_purchases"] / len(later) < 0.9


def test_days_and_weeks_fit_the_same_model(ltv_home, tmp_path, capsys):
    """In days, alpha is 7 times the weeks' (a rate per day is a seventh of a rate per week),
    and the other parameters and the holdout do not change."""
    load_cdnow(ltv_home, tmp_path)
    weeks = predict_json("--calibration-end", "1997-09-30", "--time-unit", "week", capsys=capsys)
    days = predict_json("--calibration-end", "1997-09-30", capsys=capsys)
    assert days["time_unit"] == "day"
    assert days["bgnbd"]["alpha"] == pytest.approx(7 * weeks["bgnbd"]["alpha"], rel=1e-3)
    for p in ("r", "a", "b"):
        assert days["bgnbd"][p] == pytest.approx(weeks["bgnbd"][p], rel=1e-3)
    assert days["holdout"]["predicted_repeat_purchases"] == pytest.approx(
        weeks["holdout"]["predicted_repeat_purchases"], rel=1e-3
    )


def test_without_a_calibration_end_it_reads_the_stored_fit_or_says_what_to_run(
    ltv_home, tmp_path, capsys
):
    load_cdnow(ltv_home, tmp_path)
    assert main(["predict"]) == 1
    assert "no stored fit yet" in capsys.readouterr().err
    # `ltv materialize` builds the predictions the first time (they were never built).
    assert main(["materialize"]) == 0
    capsys.readouterr()
    result = predict_json(capsys=capsys)
    assert result["calibration_end"] == "1998-06-30" and result["holdout"] is None
    assert result["customers"] == 2357 and result["bgnbd"]["reliable"]
    assert main(["predict"]) == 0
    table = capsys.readouterr().out
    assert "stored fit of default, fitted at " in table
    assert "BG/NBD (purchases): r = " in table and "left out of the purchase process" in table
    # Built less than a day ago: a new file rebuilds the model and marts, not the fit.
    extra = tmp_path / "later.csv"
    write_orders(extra, [order_row(99, "06/30/1998", 1, 5.0, "late@example.com")])
    assert main(["import", str(extra)]) == 0
    capsys.readouterr()
    assert main(["materialize"]) == 0
    out = capsys.readouterr().out
    assert "ltv_model_fits" not in out and "cohort_ltv_projected" not in out
    assert "predictions are from " in out and "refresh daily" in out
    assert "customer_ltv: ok" in out
    assert main(["materialize", "--full"]) == 0
    assert "ltv_model_fits: ok" in capsys.readouterr().out
