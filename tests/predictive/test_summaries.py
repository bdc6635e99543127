"""Customer summaries from the unified model, worked by hand on a tiny export; and what
`ltv predict` says when the data is too thin or the account unknown."""

from __future__ import annotations

import datetime as dt
import json

from ltv_pipeline.cli.main import main
from ltv_pipeline.metrics.predictive.summaries import summaries_sql
from tests.marts.cases import order_row, warehouse, write_orders
from tests.model.loading import load_csv, rebuild

ROWS = [
    order_row(1, "01/01/2024", 7, 10, "a@x.io"),
    order_row(2, "01/01/2024", 8, 5, " A@X.io "),  # same day, same customer: one occasion
    order_row(3, "01/15/2024", 7, 20, "a@x.io", status="Refunded"),  # worth 0 after refund
    order_row(4, "01/31/2024", 9, 30, "a@x.io"),
    order_row(5, "01/10/2024", 7, 8, "b@x.io"),
    order_row(6, "02/05/2024", 7, 12, "b@x.io"),  # after the calibration end
    order_row(7, "01/20/2024", 7, 99, "c@x.io", status="Declined"),  # not a purchase
]


def build(settings, tmp_path):
    with warehouse(settings) as conn:
        load_csv(conn, settings, write_orders(tmp_path / "orders.csv", ROWS))
        rebuild(conn)
        return conn.execute(
            f'SELECT customer_key, first_day, x, t_x, "T", m_x FROM '
            f"({summaries_sql(None, dt.date(2024, 1, 31), 'day')})"
        ).fetchall()


def test_summaries_by_hand(ltv_home, tmp_path):
    rows = build(ltv_home, tmp_path)
    assert rows == [
        # a: occasions 01-01 ($15), 01-15 ($20 refunded: $0), 01-31 ($30); the end day counts
        ("a@x.io", dt.date(2024, 1, 1), 2, 30.0, 30.0, 15.0),
        # b: one occasion before the end; the later one is the holdout's
        ("b@x.io", dt.date(2024, 1, 10), 0, 0.0, 21.0, 0.0),
    ]


def test_thin_data_is_unreliable_with_null_parameters_and_a_reason(ltv_home, tmp_path, capsys):
    build(ltv_home, tmp_path)
    assert main(["predict", "--calibration-end", "2024-01-31", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["customers"] == 2
    assert result["bgnbd"] == {
        "r": None,
        "alpha": None,
        "a": None,
        "b": None,
        "log_likelihood": None,
        "reliable": False,
        "reason": "only 1 repeat customers; at least 100 are needed for parameters that do "
        "not swing with a few people",
    }
    assert result["gamma_gamma"]["p"] is None and not result["gamma_gamma"]["reliable"]
    assert result["holdout"] == {
        "end": "2024-02-05",
        "predicted_repeat_purchases": None,
        "actual_repeat_purchases": 1,
    }
    assert main(["predict", "--calibration-end", "2024-01-31"]) == 0
    assert "BG/NBD (purchases): not reliable, no parameters: only 1" in capsys.readouterr().out


def test_an_unknown_account_exits_2_and_names_the_known_ones(ltv_home, tmp_path, capsys):
    build(ltv_home, tmp_path)
    assert main(["predict", "--account", "nosuchstore"]) == 2
    assert capsys.readouterr().err.strip() == (
        "ltv predict: unknown account 'nosuchstore'; known: default"
    )


def test_before_any_model_it_says_what_to_do(ltv_home, capsys):
    with warehouse(ltv_home):
        pass
    assert main(["predict"]) == 1
    assert "run `ltv materialize` first" in capsys.readouterr().err


def test_a_calibration_end_after_the_data_is_refused(ltv_home, tmp_path, capsys):
    """Days nobody has seen yet would count as days without a purchase."""
    build(ltv_home, tmp_path)
    assert main(["predict", "--calibration-end", "2030-01-01", "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--calibration-end 2030-01-01 is after the latest day in the data (2024-02-05)" in (
        captured.err
    )
    assert main(["predict", "--calibration-end", "2024-02-05", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["calibration_end"] == "2024-02-05"


def test_a_stored_fit_of_no_account_is_not_called_never_materialized(ltv_home, tmp_path, capsys):
    from ltv_pipeline.metrics.predictive.account_fits import write_fits

    with warehouse(ltv_home) as conn:
        rows = [order_row(1, "01/01/2024", 7, 10, "a@x.io", status="Declined")]
        load_csv(conn, ltv_home, write_orders(tmp_path / "declined.csv", rows))
        rebuild(conn)
        write_fits(conn, [], None)  # what the fit asset stores when nobody has bought
    assert main(["predict"]) == 1
    err = capsys.readouterr().err
    assert "never materialized" not in err
    assert "the stored fit covers no account" in err
