"""Predictive LTV benchmark (issue 16): fit BG/NBD and Gamma-Gamma and score every customer
(P(alive), expected purchases and value over the next 90/180/365 days) on 1,000,000 customers,
against the warehouse's own customer-summary query alone.

The history is simulated from the models themselves with the CDNOW sample's published
parameters (in days), so the fit has something true to recover and the recovered parameters
are printed beside the true ones: each customer's first purchase falls on a day of a three-year
window; while alive they buy at a rate lambda ~ Gamma(r, alpha) and after each repeat purchase
drop out with probability p ~ Beta(a, b); each purchase is worth Gamma(p, nu) dollars with
nu ~ Gamma(q, gamma) per customer. The purchases are stored as an Orders export's landed
records (one line per order, as the marts benchmark stores its records) and the unified model
is built from them, so the summaries come from the real `transactions` table. The simulation is
numpy, a round per purchase number over the customers still buying (no loop per customer).
The models are continuous in time and the summaries count purchase days, so two purchases on
one day are one occasion: at a million customers alpha comes back about 5% high from that
alone (fitted on the continuous times, every BG/NBD parameter comes back within about 1%).

Each measurement runs in a fresh child process that times only its own work and reports its
peak memory (RSS high-water mark):
- summary: the customer summaries (ltv_pipeline.metrics.predictive.summaries) fetched as
  arrays: the baseline;
- predict: the same summaries, then both fits, then every customer scored;
- refresh: the daily refresh as Dagster materializes it: the three prediction assets
  (ltv_model_fits with its holdout plots, predicted_customer_ltv, cohort_ltv_projected), each
  step timed, the whole reported as a ratio to the summary query (the marts the projection
  reads are built when the warehouse is prepared).
The warehouse is prepared in a child process too, so that no measured child inherits its
parent's memory high-water mark.

Run: `.venv/bin/python bench/bench_predict.py [--customers N] [--runs N] [--keep DIR]`.
Targets (issue 16): predict under 30 s and under 2 GB; the ratios predict / summary and
refresh / summary reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_ltv_marts import peak_gb  # noqa: E402

HORIZON_DAYS = (90, 180, 365)
FIRST_DAY = dt.date(2022, 1, 1)
WINDOW_DAYS = 3 * 365  # first purchases fall on days 0 .. WINDOW_DAYS - 1; the data ends there
# The CDNOW sample's published parameters (Fader, Hardie & Lee 2005), alpha from weeks to days.
TRUE_BGNBD = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
TRUE_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def simulate(customers: int, seed: int = 16) -> dict[str, np.ndarray]:
    """(customer, day, cents) per purchase, days counted from FIRST_DAY, the last day of the
    data being WINDOW_DAYS - 1. Purchase times are continuous; a purchase's day is the day it
    falls in, and purchases after the last day are not seen."""
    rng = np.random.default_rng(seed)
    bg, gg = TRUE_BGNBD, TRUE_GAMMA_GAMMA
    first = rng.integers(0, WINDOW_DAYS, customers)
    horizon = (WINDOW_DAYS - first).astype(float)  # to the end of the last day
    rate = rng.gamma(bg["r"], 1 / bg["alpha"], customers)
    drop = rng.beta(bg["a"], bg["b"], customers)
    spend_rate = rng.gamma(gg["q"], 1 / gg["gamma"], customers)
    who, days = [np.arange(customers)], [first]
    clock = np.zeros(customers)
    buying = np.arange(customers)
    while buying.size:  # one round per repeat purchase number
        clock[buying] += rng.exponential(1 / rate[buying])
        buying = buying[clock[buying] < horizon[buying]]
        who.append(buying)
        days.append(first[buying] + np.floor(clock[buying]).astype(np.int64))
        buying = buying[rng.random(buying.size) >= drop[buying]]
    customer = np.concatenate(who)
    dollars = rng.gamma(gg["p"], 1 / spend_rate[customer])
    cents = np.maximum(np.round(dollars * 100), 1).astype(np.int64)
    return {"customer": customer, "day": np.concatenate(days), "cents": cents}


def prepare(path: Path, customers: int) -> int:
    """The simulated purchases as an Orders export's landed records, and the unified model
    built from them; returns the number of order lines."""
    import duckdb
    import pyarrow as pa

    from ltv_core.formats.profiles import load_catalog
    from ltv_core.settings import DEFAULT_CUSTOMER_KEY_RULE
    from ltv_pipeline.defs.marts.build import build_marts
    from ltv_pipeline.defs.model.build import build_model
    from ltv_pipeline.warehouse.landed import store_file_records
    from ltv_pipeline.warehouse.schema_version import ensure_schema

    purchases = pa.table(simulate(customers))
    conn = duckdb.connect(str(path))
    ensure_schema(conn)
    conn.register("simulated_purchases", purchases)
    store_file_records(
        conn,
        load_catalog().profile("samcart-orders"),
        "default",
        "simulated",
        f"""
        SELECT k + 2 AS line_number, CAST(100000000 + k AS VARCHAR) AS order_id,
            DATE '{FIRST_DAY.isoformat()}' + CAST(day AS INTEGER) AS typed_order_date,
            TIME '10:00:00' AS typed_order_time, 'Charged' AS order_status,
            'charged' AS typed_order_status, CAST(55500 + customer % 7 AS VARCHAR) AS product_id,
            'Product ' || (customer % 7) AS product_name,
            CAST(cents / 100 AS DECIMAL(18, 2)) AS typed_price,
            'buyer' || customer || '@example.com' AS customer_email,
            DATE '{FIRST_DAY.isoformat()}' + CAST(day AS INTEGER) + TIME '10:00:00'
                AS typed_ordered_at, true AS accepted
        FROM (SELECT row_number() OVER () AS k, * FROM simulated_purchases)""",
    )
    conn.unregister("simulated_purchases")
    build_model(conn, DEFAULT_CUSTOMER_KEY_RULE)
    build_marts(conn)  # customer_ltv and cohort_ltv, which the projection reads
    conn.execute("CHECKPOINT")
    lines = conn.execute("SELECT count(*) FROM transactions").fetchall()[0][0]
    conn.close()
    return lines


def child(mode: str, path: str, customers: str = "0") -> None:
    if mode == "prepare":
        print(json.dumps({"lines": prepare(Path(path), int(customers))}))
        return
    if mode == "refresh":
        print(json.dumps(refresh()))
        return
    import duckdb

    from ltv_pipeline.metrics.as_of import data_as_of_day
    from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
    from ltv_pipeline.metrics.predictive.expected_value import expected_value
    from ltv_pipeline.metrics.predictive.prediction import read_summaries

    conn = duckdb.connect(path, read_only=True)
    end: dt.date = data_as_of_day(conn)
    started = time.perf_counter()
    s = read_summaries(conn, None, end, "day")
    result: dict[str, object] = {"customers": len(s.x)}
    lap = time.perf_counter()
    result["summary_s"] = lap - started
    if mode == "predict":
        purchases = bgnbd.fit(s.x, s.t_x, s.T)
        result["bgnbd_fit_s"] = time.perf_counter() - lap
        lap = time.perf_counter()
        spend = gamma_gamma.fit(s.x, s.m_x)
        result["gamma_gamma_fit_s"] = time.perf_counter() - lap
        lap = time.perf_counter()
        result["fits"] = {"bgnbd": purchases.as_dict(), "gamma_gamma": spend.as_dict()}
        if purchases.reliable and spend.reliable:
            bg = tuple(purchases.parameters[n] for n in bgnbd.PARAMETERS)
            gg = tuple(spend.parameters[n] for n in gamma_gamma.PARAMETERS)
            alive = bgnbd.probability_alive(bg, s.x, s.t_x, s.T)
            totals = {}
            for days in HORIZON_DAYS:
                expected = bgnbd.conditional_expected_purchases(bg, days, s.x, s.t_x, s.T)
                value = expected_value(bg, gg, days, s.x, s.t_x, s.T, s.m_x)
                totals[days] = {"purchases": float(expected.sum()), "value": float(value.sum())}
            result["mean_alive"] = float(alive.mean())
            result["expected"] = totals
        result["score_s"] = time.perf_counter() - lap
    result["seconds"] = time.perf_counter() - started
    result["peak_gb"] = peak_gb()
    print(json.dumps(result))


def refresh() -> dict:
    """The three prediction assets materialized by Dagster over the warehouse in LTV_HOME, as
    the daily sensor runs them; Dagster's start-up (building the Definitions) timed apart."""
    started = time.perf_counter()
    from dagster import materialize

    from ltv_pipeline.definitions import build_definitions
    from ltv_pipeline.defs.predictions.automation import PREDICTIONS_GROUP

    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    wanted = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == PREDICTIONS_GROUP}
    selected = [a for a in defs.assets if set(a.keys) & wanted]
    result: dict[str, object] = {"dagster_startup_s": time.perf_counter() - started}
    started = time.perf_counter()
    run = materialize(selected, resources=dict(defs.resources))
    result["seconds"] = time.perf_counter() - started
    if not run.success:
        sys.exit("the prediction assets did not materialize")
    result["steps_s"] = {
        e.step_key: e.event_specific_data.duration_ms / 1000
        for e in run.all_events
        if e.is_step_success
    }
    result["peak_gb"] = peak_gb()
    return result


def run_child(mode: str, path: Path, *extra: str) -> dict:
    """A fresh process per measurement. The warehouse is prepared in one too: a child's
    ru_maxrss starts at its parent's high-water mark (Linux keeps it across fork and exec), so
    a parent that had simulated a million customers would inflate every peak reported."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), *extra],
        capture_output=True,
        text=True,
        # The refresh reads the warehouse, and writes its charts, under LTV_HOME.
        env={**os.environ, "PYTHONPATH": str(ROOT), "LTV_HOME": str(path.parent)},
    )
    if done.returncode != 0:
        sys.exit(f"the {mode} run failed:\n{done.stdout}{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def recovered(fits: dict) -> str:
    rows = []
    for model, true in (("bgnbd", TRUE_BGNBD), ("gamma_gamma", TRUE_GAMMA_GAMMA)):
        fit = fits[model]
        if not fit["reliable"]:
            rows.append(f"  {model}: not reliable: {fit['reason']}")
            continue
        rows += [
            f"  {model} {n}: true {v:.4g}, recovered {fit[n]:.4g} ({fit[n] / v - 1:+.1%})"
            for n, v in true.items()
        ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each; medians reported")
    parser.add_argument("--keep", type=Path, help="folder to keep the warehouse in")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_predict_"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warehouse.duckdb"
    if not path.exists():
        started = time.perf_counter()
        lines = run_child("prepare", path, str(args.customers))["lines"]
        print(
            f"{args.customers:,} customers, {lines:,} order lines simulated and the model "
            f"built in {time.perf_counter() - started:.1f} s"
        )
    runs: dict[str, list[dict]] = {"summary": [], "predict": [], "refresh": []}
    for n in range(args.runs):
        for mode in runs:  # alternating, so other load on the machine falls on both alike
            runs[mode].append(run_child(mode, path))
        print(
            f"run {n + 1}: " + ", ".join(f"{m} {r[-1]['seconds']:.1f} s" for m, r in runs.items())
        )
    predict = runs["predict"]

    def median(key: str, mode: str = "predict") -> float:
        return statistics.median(r[key] for r in runs[mode])

    summary_s, predict_s = median("seconds", "summary"), median("seconds")
    last = predict[-1]
    print(f"customers: {last['customers']:,}; mean P(alive) {last.get('mean_alive', 0):.3f}")
    print("parameters (days), true vs recovered:\n" + recovered(last["fits"]))
    for days, expected in last.get("expected", {}).items():
        print(
            f"next {days} days: {expected['purchases']:,.0f} expected purchases, "
            f"${expected['value']:,.0f} expected value"
        )
    print(
        f"summary query (baseline): {summary_s:.1f} s, peak "
        f"{max(r['peak_gb'] for r in runs['summary']):.2f} GB\n"
        f"predict: {predict_s:.1f} s = summaries {median('summary_s'):.1f} + BG/NBD fit "
        f"{median('bgnbd_fit_s'):.1f} + Gamma-Gamma fit {median('gamma_gamma_fit_s'):.1f} + "
        f"scoring {median('score_s'):.1f} (target < 30 s); peak "
        f"{max(r['peak_gb'] for r in predict):.2f} GB (target < 2); ratio to the summary "
        f"query: {predict_s / summary_s:.2f}"
    )
    refresh_s = median("seconds", "refresh")
    steps = runs["refresh"][-1]["steps_s"]
    step_medians = {
        step: statistics.median(r["steps_s"][step] for r in runs["refresh"]) for step in steps
    }
    print(
        f"daily refresh (the three prediction assets, Dagster start-up "
        f"{median('dagster_startup_s', 'refresh'):.1f} s apart): {refresh_s:.1f} s = "
        + " + ".join(f"{step} {s:.1f}" for step, s in step_medians.items())
        + f" (+ Dagster's run overhead); peak {max(r['peak_gb'] for r in runs['refresh']):.2f} "
        f"GB; ratio to the summary query: {refresh_s / summary_s:.2f}"
    )


if __name__ == "__main__":
    main()
