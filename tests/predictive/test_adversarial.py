"""Odd data and hostile use of the predictions, through the real `ltv` CLI on temporary homes:
whatever the data, the commands end with an answer or a precise error, never a traceback, and
nothing stored or printed holds NaN or infinity."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys

import numpy as np
from scipy.special import hyp2f1

from ltv_pipeline.metrics.predictive import bgnbd
from tests.marts.cases import order_row, write_orders

LTV = [sys.executable, "-m", "ltv_pipeline.cli.main"]


def ltv(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LTV, *args], capture_output=True, text=True, env=dict(os.environ), timeout=300
    )


def strict_json(text: str):
    """JSON as a strict parser reads it: NaN and Infinity are not JSON."""

    def refuse(constant: str):
        raise AssertionError(f"{constant} in the JSON output")

    return json.loads(text, parse_constant=refuse)


def day(offset: int) -> str:
    return (dt.date(2024, 1, 1) + dt.timedelta(days=offset)).strftime("%m/%d/%Y")


def exactly_100_repeat_customers() -> list[list[str]]:
    """100 customers with 1 to 3 repeat purchases at random gaps, 200 who bought once: the
    purchase fit runs off to a drop-out probability that is the same for everyone (a and b in
    the millions), where the usual form of the expectation is 0 * inf."""
    rng = random.Random(4)
    rows, order = [], 0
    for c in range(100):
        for k in range(2 + rng.randrange(3)):
            rows.append(
                order_row(
                    order,
                    day(c + rng.randrange(1, 40) * k),
                    1,
                    20 + rng.randrange(50),
                    f"c{c}@x.io",
                )
            )
            order += 1
    for c in range(100, 300):
        rows.append(order_row(order, day(c), 1, 20 + rng.randrange(50), f"c{c}@x.io"))
        order += 1
    return rows


def test_the_expectation_is_finite_when_everyone_drops_out_alike():
    """a and b in the millions: equation (10) evaluated as the paper writes it."""
    r, alpha, a, b = params = (0.5, 20.0, 1e6, 2e6)
    x, t_x, T, t = np.array([0.0, 1.0, 10.0]), np.array([0.0, 20.0, 45.0]), 50.0, 161.0
    z = t / (alpha + T + t)
    survival = ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    by_paper = (
        (a + b + x - 1) / (a - 1) * (1 - survival) * bgnbd.probability_alive(params, x, t_x, T)
    )
    got = bgnbd.conditional_expected_purchases(params, t, x, t_x, T)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, by_paper, rtol=1e-9)
    new = bgnbd.expected_purchases_new_customer(params, np.array([7.0, 365.0]))
    assert np.all(np.isfinite(new)) and np.all(np.diff(new) > 0)


def test_a_fit_at_the_edge_of_the_model_still_materializes_and_predicts(ltv_home, tmp_path):
    orders = write_orders(tmp_path / "orders.csv", exactly_100_repeat_customers())
    assert ltv("import", str(orders)).returncode == 0
    built = ltv("materialize")
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Traceback" not in built.stderr
    predicted = ltv("predict", "--calibration-end", "2024-06-30", "--format", "json")
    assert predicted.returncode == 0, predicted.stderr
    holdout = strict_json(predicted.stdout)["holdout"]
    assert holdout["actual_repeat_purchases"] >= 0
    tables = ltv(
        "sql",
        "SELECT (SELECT count(*) FROM ltv_model_fits), (SELECT count(*) FROM "
        "predicted_customer_ltv WHERE isnan(p_alive) OR isinf(expected_purchases_365)), "
        "(SELECT count(*) FROM cohort_ltv_projected)",
    )
    assert tables.returncode == 0, tables.stderr
    fits, not_finite, projected = map(int, tables.stdout.splitlines()[1].split(","))
    assert fits == 1 and not_finite == 0 and projected > 0


def fit_times() -> dict[str, str]:
    """Each prediction table's fit time(s)."""
    tables = ("ltv_model_fits", "predicted_customer_ltv", "cohort_ltv_projected")
    query = " UNION ALL ".join(
        f"SELECT '{t}', string_agg(DISTINCT CAST(fitted_at AS VARCHAR), ' ') FROM {t}"
        for t in tables
    )
    result = ltv("sql", query)
    assert result.returncode == 0, result.stderr
    return dict(line.split(",", 1) for line in result.stdout.splitlines()[1:])


def test_materialize_finishes_what_a_run_stopped_after_the_fit_left(ltv_home, tmp_path):
    """A run killed after the fit was recorded leaves the predictions and projected cells of
    the fit before, which the report would label with the new fit's date: the next
    `ltv materialize` rebuilds them, though they are less than a day old."""
    rows = [order_row(i, day(i % 20), 1, 10 + i, f"c{i % 7}@x.io") for i in range(30)]
    assert ltv("import", str(write_orders(tmp_path / "orders.csv", rows))).returncode == 0
    assert ltv("materialize").returncode == 0
    first = fit_times()
    assert len(set(first.values())) == 1 and "" not in first.values()
    # What such a run leaves: only the fit redone.
    assert ltv("materialize", "key:ltv_model_fits").returncode == 0
    refitted = fit_times()["ltv_model_fits"]
    assert refitted != first["ltv_model_fits"]
    again = ltv("materialize")
    assert again.returncode == 0, again.stderr
    assert fit_times() == {t: refitted for t in first}
