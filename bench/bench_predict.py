"""Predictive LTV benchmark (issue 16): fit BG/NBD and Gamma-Gamma and score every customer
(P(alive), expected purchases and value over the next 90/180/365 days) on the marts
benchmark's warehouse (bench_ltv_marts.generate, 1,000,000 customers), against the
warehouse's own customer-summary query alone.

Each measurement runs in a fresh child process that times only its own work and reports its
peak memory:
- summary: the customer summaries (ltv_pipeline.metrics.predictive.summaries) fetched as arrays;
- predict: the same summaries, both fits, and every customer scored.

Run: `.venv/bin/python bench/bench_predict.py [--customers N] [--runs N] [--keep DIR]`.
Targets (issue 16): predict under 30 s and under 2 GB; the ratio predict / summary reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HORIZON_DAYS = (90, 180, 365)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def prepare(path: Path, customers: int) -> None:
    """The marts benchmark's landed records, and the unified model built from them."""
    sys.path.insert(0, str(ROOT))
    import duckdb

    from bench.bench_ltv_marts import generate
    from ltv_core.settings import DEFAULT_CUSTOMER_KEY_RULE
    from ltv_pipeline.defs.model.build import build_model

    generate(path, customers)
    conn = duckdb.connect(str(path))
    build_model(conn, DEFAULT_CUSTOMER_KEY_RULE)
    conn.execute("CHECKPOINT")
    conn.close()


def child(mode: str, path: str) -> None:
    sys.path.insert(0, str(ROOT))
    import duckdb
    import numpy as np

    from ltv_pipeline.metrics.as_of import data_as_of_day
    from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
    from ltv_pipeline.metrics.predictive.prediction import read_summaries

    conn = duckdb.connect(path, read_only=True)
    end: dt.date = data_as_of_day(conn)
    started = time.perf_counter()
    summaries = read_summaries(conn, None, end, "day")
    result: dict[str, object] = {"customers": len(summaries.x)}
    if mode == "predict":
        s = summaries
        purchases = bgnbd.fit(s.x, s.t_x, s.T)
        spend = gamma_gamma.fit(s.x, s.m_x)
        result["fits"] = {"bgnbd": purchases.as_dict(), "gamma_gamma": spend.as_dict()}
        if purchases.reliable and spend.reliable:
            bg = tuple(purchases.parameters[n] for n in bgnbd.PARAMETERS)
            gg = tuple(spend.parameters[n] for n in gamma_gamma.PARAMETERS)
            alive = bgnbd.probability_alive(bg, s.x, s.t_x, s.T)
            value = gamma_gamma.expected_average_value(gg, s.x, s.m_x)
            totals = {}
            for days in HORIZON_DAYS:
                expected = bgnbd.conditional_expected_purchases(bg, days, s.x, s.t_x, s.T)
                totals[days] = float(np.sum(expected * value))
            result["mean_alive"] = float(alive.mean())
            result["expected_value"] = totals
    result["seconds"] = time.perf_counter() - started
    result["peak_gb"] = peak_gb()
    print(json.dumps(result))


def run_child(mode: str, path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        sys.exit(f"the {mode} run failed:\n{done.stdout}{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each; medians reported")
    parser.add_argument("--keep", type=Path, help="folder to keep the warehouse in")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_predict_"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warehouse.duckdb"
    if not path.exists():
        started = time.perf_counter()
        prepare(path, args.customers)
        print(f"warehouse and model built in {time.perf_counter() - started:.1f} s")
    runs: dict[str, list[dict]] = {"summary": [], "predict": []}
    for n in range(args.runs):
        for mode in runs:  # alternating, so other load on the machine falls on both alike
            runs[mode].append(run_child(mode, path))
        print(
            f"run {n + 1}: " + ", ".join(f"{m} {r[-1]['seconds']:.1f} s" for m, r in runs.items())
        )
    summary_s = statistics.median(r["seconds"] for r in runs["summary"])
    predict_s = statistics.median(r["seconds"] for r in runs["predict"])
    peak = max(r["peak_gb"] for r in runs["predict"])
    last = runs["predict"][-1]
    print(json.dumps(last["fits"], indent=1))
    print(f"customers: {last['customers']:,}; mean P(alive) {last.get('mean_alive')}")
    print(f"expected value over the next {HORIZON_DAYS} days: {last.get('expected_value')}")
    print(
        f"summary query: {summary_s:.1f} s; fit and score: {predict_s:.1f} s (target < 30), "
        f"peak {peak:.2f} GB (target < 2); ratio to the summary query: "
        f"{predict_s / summary_s:.2f}"
    )


if __name__ == "__main__":
    main()
