"""LTV marts benchmark: full rebuild of the unified model and every mart, against one
hand-written DuckDB query computing the net cohort LTV table straight from the transactions.

A synthetic history is generated inside DuckDB (no Python loops): 1,000,000 customers, order
lines in the Orders export layout (5% of them repeated by an overlapping second export, 1%
refunded, 0.5% declined) and recurring subscriptions whose rebuilt charges bring the unified
model to about 10,000,000 transactions. Then, each in a fresh child process that times only its
own work and reports its peak memory:

- assets: the model and every mart materialized by Dagster (`materialize` over the same
  warehouse), as a run of `ltv run` does them: the SQL, and also the model's checks and summaries
  and the marts' checks, previews and PNG charts. This is the figure a user waits for;
- rebuild: the SQL alone (ltv_pipeline.defs.model.build + defs.marts.build), to tell how much of
  it the checks, previews and charts add; Dagster's start-up (importing and building the
  Definitions) is timed apart in both;
- baseline: one hand-written query for the net cohort LTV table from `transactions`;
- floor: the least work the marts need, hand-written (`floor_statements`), to tell our
  overhead from the cost of the task itself.

Each is run `--runs` times (default 3), alternating, and the median is reported: the machine
may be shared, so single runs are noise. The history is generated in a child process too, so
that no measured child inherits the memory high-water mark of a parent that generated it.

Run: `.venv/bin/python bench/bench_ltv_marts.py [--customers N] [--runs N] [--keep DIR]`
(1,000,000 customers make about 10,000,000 transactions; `--customers 100000` about 1,000,000).
Targets (issue 4): assets / baseline <= 3, peak memory < 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ltv_pipeline.metrics.definitions import HORIZONS as METRIC_HORIZONS

ROOT = Path(__file__).resolve().parent.parent


def generate(path: Path, customers: int) -> dict[str, int]:
    """Landed records as `load_file` stores them, made with DuckDB's range(): the cells the model
    reads as text, typed values beside them, and typed text (email keys, statuses) only where it
    differs from the cell, so the raw views do the same work as on imported data."""
    sys.path.insert(0, str(ROOT))
    import duckdb

    from ltv_core.formats.profiles import load_catalog
    from ltv_pipeline.warehouse.landed import store_file_records
    from ltv_pipeline.warehouse.schema_version import ensure_schema

    conn = duckdb.connect(str(path))
    ensure_schema(conn)
    orders = customers * 6
    catalog = load_catalog()
    store_file_records(
        conn,
        catalog.profile("samcart-orders"),
        "default",
        "file-a",
        f"""
        WITH o AS (
            SELECT k, k % {customers} AS c, k // {customers} AS seq,
                DATE '2022-01-01' + CAST(hash(k % {customers}) % 730 AS INTEGER)
                    + CAST((k // {customers}) * (hash(k) % 45) AS INTEGER) AS day
            FROM range({orders}) t(k)
        ), lines AS (
            SELECT o.*, line,
                CASE WHEN hash(k, 'status') % 200 < 2 THEN 'Refunded'
                     WHEN hash(k, 'status') % 200 < 3 THEN 'Declined' ELSE 'Charged' END AS status
            FROM o, range(1, CASE WHEN k % 3 = 0 THEN 3 ELSE 2 END) r(line)
        )
        SELECT row_number() OVER () + 1 AS line_number,
            CAST(100000000 + k AS VARCHAR) AS order_id, day AS typed_order_date,
            TIME '10:00:00' AS typed_order_time, status AS order_status,
            lower(status) AS typed_order_status,
            CAST(55500 + line * 10 + c % 7 AS VARCHAR) AS product_id,
            'Product ' || (line * 10 + c % 7) AS product_name,
            CAST(CASE line WHEN 1 THEN 47 + (c % 5) * 50 ELSE 17 END AS DECIMAL(18, 2))
                AS typed_price,
            'buyer' || c || '@example.com' AS customer_email,
            day + TIME '10:00:00' AS typed_ordered_at, true AS accepted
        FROM lines""",
    )
    # An overlapping second export: 5% of the same lines again, in another file.
    store_file_records(
        conn,
        catalog.profile("samcart-orders"),
        "default",
        "file-b",
        """SELECT * EXCLUDE (account, file_hash) FROM landed_samcart_orders
           WHERE file_hash = 'file-a' AND hash(order_id) % 20 = 0""",
    )
    subscriptions = customers // 5
    store_file_records(
        conn,
        catalog.profile("samcart-recurring-subscriptions"),
        "default",
        "subs-a",
        f"""
        SELECT s + 2 AS line_number, CAST(7000000 + s AS VARCHAR) AS subscription_id,
            'buyer' || (s * 5) || '@example.com' AS customer_email, '55502' AS product_id,
            'Membership' AS product_name,
            CASE WHEN s % 4 = 0 THEN 'Canceled' ELSE 'Active' END AS status,
            CASE WHEN s % 4 = 0 THEN 'canceled' ELSE 'active' END AS typed_status,
            DATE '2022-01-01' + CAST(hash(s * 5) % 730 AS INTEGER) AS typed_created_date,
            29.00 AS typed_recurring_price, 'Monthly' AS frequency,
            'monthly' AS typed_frequency, 11 AS typed_charges_made,
            319.00 AS typed_total_collected, true AS accepted
        FROM range({subscriptions}) t(s)""",
    )
    counts = {
        "order_rows": conn.execute("SELECT count(*) FROM raw_samcart_orders").fetchall()[0][0],
        "subscription_rows": subscriptions,
    }
    conn.execute("CHECKPOINT")
    conn.close()
    return counts


BASELINE_SQL = """
WITH firsts AS (
    SELECT account, customer_key, min(transaction_day) AS first_day
    FROM transactions WHERE kind = 'order_line' GROUP BY ALL
), per_customer AS (
    SELECT f.account, f.customer_key, strftime(f.first_day, '%Y-%m') AS cohort, f.first_day,
        {sums}
    FROM firsts f JOIN transactions t USING (account, customer_key)
    GROUP BY ALL
), as_of AS (SELECT max(transaction_day) AS day FROM transactions)
SELECT cohort, count(*) AS customers, {cells}
FROM per_customer, as_of GROUP BY cohort ORDER BY cohort
"""
# The same standard horizons as the marts (all time is computed apart in the query).
HORIZONS = [(label, days) for label, days in METRIC_HORIZONS if days is not None]


def baseline_sql() -> str:
    sums = (
        ", ".join(
            f"sum(amount) FILTER (WHERE t.transaction_day <= f.first_day + {d}) AS {h}"
            for h, d in HORIZONS
        )
        + ", sum(amount) AS all_time"
    )
    cells = (
        ", ".join(
            f"CASE WHEN max(first_day) + {d} <= any_value(as_of.day) "
            f"THEN round(sum({h}) / count(*), 2) END AS ltv_{h}"
            for h, d in HORIZONS
        )
        + ", round(sum(all_time) / count(*), 2) AS ltv_all"
    )
    return BASELINE_SQL.format(sums=sums, cells=cells)


def floor_statements() -> list[str]:
    """The least work the issue's marts leave for any implementation, hand-written: order lines
    merged across exports (one group-by) and charges rebuilt from the subscriptions, written as
    the transactions; each customer's first purchase; per-customer net sums within each horizon;
    the cohort table; days between a customer's consecutive orders. None of our rules for
    refunds, webhooks, identities, payment plans or checks. What is left of the target once this
    is paid is the budget for all of those."""
    sums = ", ".join(
        f"sum(t.amount) FILTER (WHERE t.day <= c.first_day + {days}) AS {label}"
        for label, days in HORIZONS
    )
    cells = ", ".join(f"sum({label}) / count(*) AS ltv_{label}" for label, _ in HORIZONS)
    return [
        """CREATE TABLE floor_transactions AS
        SELECT account, customer_key, order_id, 'order_line' AS kind, day, amount FROM (
            SELECT account, order_id, product_id, min(customer_email) AS customer_key,
                min(order_date) AS day, min(price) AS amount
            FROM raw_samcart_orders WHERE order_status <> 'declined'
            GROUP BY account, order_id, product_id)
        UNION ALL
        SELECT account, customer_email, NULL, 'rebill',
            created_date + CAST(charge * 30 AS INTEGER), recurring_price
        FROM (SELECT *, unnest(range(1, charges_made)) AS charge
              FROM raw_samcart_subscriptions)""",
        """CREATE TABLE floor_customers AS
        SELECT account, customer_key, min(day) AS first_day,
            arg_min(order_id, day) FILTER (WHERE kind = 'order_line') AS first_order_id
        FROM floor_transactions GROUP BY account, customer_key""",
        f"""CREATE TABLE floor_customer_ltv AS
        SELECT c.account, c.customer_key, any_value(c.first_day) AS first_day, {sums},
            sum(t.amount) AS all_time
        FROM floor_customers c JOIN floor_transactions t
          ON t.account = c.account AND t.customer_key = c.customer_key
        GROUP BY c.account, c.customer_key""",
        f"""CREATE TABLE floor_cohort_ltv AS
        SELECT account, strftime(first_day, '%Y-%m') AS cohort, count(*) AS customers, {cells}
        FROM floor_customer_ltv GROUP BY ALL""",
        """CREATE TABLE floor_time_between_purchases AS
        SELECT account, k, gap, count(*) AS customers FROM (
            SELECT account, row_number() OVER w AS k, day - lag(day) OVER w AS gap FROM (
                SELECT account, customer_key, order_id, min(day) AS day
                FROM floor_transactions WHERE kind = 'order_line' GROUP BY ALL)
            WINDOW w AS (PARTITION BY account, customer_key ORDER BY day, order_id))
        WHERE gap IS NOT NULL GROUP BY ALL""",
    ]


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def child(mode: str, path: str, customers: str = "0") -> None:
    """Runs in a fresh process: times only its own work, prints JSON."""
    sys.path.insert(0, str(ROOT))
    result: dict[str, object] = {}
    if mode == "generate":
        print(json.dumps(generate(Path(path), int(customers))))
        return
    if mode == "assets":
        started = time.perf_counter()
        from dagster import materialize

        from ltv_pipeline.definitions import build_definitions
        from ltv_pipeline.defs.model.automation import MARTS_GROUP, MODEL_GROUP
        from ltv_pipeline.lib.full_rebuild import FULL_REBUILD_TAGS
        from ltv_pipeline.warehouse.connection import connect_warehouse

        defs = build_definitions()
        graph = defs.resolve_asset_graph()
        wanted = {
            k
            for k in graph.get_all_asset_keys()
            if graph.get(k).group_name
            in (
                MODEL_GROUP,
                MARTS_GROUP,
            )
        }
        selected = [a for a in defs.assets if set(a.keys) & wanted]
        result["dagster_startup_s"] = time.perf_counter() - started
        started = time.perf_counter()
        # Tagged as a full rebuild: the model and marts are maintained incrementally, and a run
        # over an unchanged warehouse would otherwise do (almost) nothing.
        run = materialize(selected, resources=dict(defs.resources), tags=FULL_REBUILD_TAGS)
        result["seconds"] = time.perf_counter() - started
        if not run.success:
            sys.exit("the model and marts assets did not materialize")
        checks = run.get_asset_check_evaluations()
        result["checks"] = len(checks)
        result["checks_failed"] = sorted(c.check_name for c in checks if not c.passed)
        steps = {
            e.step_key: e.event_specific_data.duration_ms / 1000
            for e in run.all_events
            if e.is_step_success
        }
        result["model_s"] = steps["unified_model"]
        result["steps_s"] = sum(steps.values())
        result["assets"] = len(wanted)
        conn = connect_warehouse(Path(path), read_only=True)
        result["transactions"] = conn.execute("SELECT count(*) FROM transactions").fetchall()[0][0]
        conn.close()
    elif mode == "rebuild":
        started = time.perf_counter()
        from ltv_pipeline.definitions import build_definitions

        build_definitions()
        result["dagster_startup_s"] = time.perf_counter() - started
        from ltv_pipeline.defs.marts.build import build_marts
        from ltv_pipeline.defs.model.build import build_model
        from ltv_pipeline.warehouse.connection import connect_warehouse

        conn = connect_warehouse(Path(path))
        started = time.perf_counter()
        build_model(conn, full=True)  # from scratch, as the assets leg does
        result["model_s"] = time.perf_counter() - started
        build_marts(conn)
        result["seconds"] = time.perf_counter() - started
        result["transactions"] = conn.execute("SELECT count(*) FROM transactions").fetchall()[0][0]
        result["customers"] = conn.execute("SELECT count(*) FROM customers").fetchall()[0][0]
        conn.close()
    elif mode == "floor":
        import duckdb

        conn = duckdb.connect(path)
        started = time.perf_counter()
        for statement in floor_statements():
            conn.execute(statement)
        result["seconds"] = time.perf_counter() - started
        for table in ("transactions", "customers", "customer_ltv", "cohort_ltv"):
            conn.execute(f"DROP TABLE floor_{table}")
        conn.execute("DROP TABLE floor_time_between_purchases")
        conn.close()
    else:
        import duckdb

        conn = duckdb.connect(path)
        started = time.perf_counter()
        rows = conn.execute(baseline_sql()).fetchall()
        result["seconds"] = time.perf_counter() - started
        result["cohorts"] = len(rows)
        conn.close()
    result["peak_gb"] = peak_gb()
    print(json.dumps(result))


def run_child(mode: str, path: Path, *extra: str) -> dict:
    """A fresh process per measurement, and for generating the history: a child's ru_maxrss
    starts at its parent's high-water mark (Linux keeps it across fork and exec), so a parent
    that had generated ten million transactions itself would inflate every peak reported."""
    # The assets read the warehouse, and write their charts, under LTV_HOME: the bench folder.
    env = {**os.environ, "LTV_HOME": str(path.parent)}
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), *extra],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        sys.exit(f"the {mode} run failed:\n{done.stdout}{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def spread(runs: list[dict[str, float]], key: str = "seconds") -> str:
    return ", ".join(f"{r[key]:.1f}" for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--customers",
        type=int,
        default=1_000_000,
        help="size: 1,000,000 customers make about 10M transactions",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each; medians reported")
    parser.add_argument("--keep", type=Path, help="folder to keep the warehouse in")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_ltv_"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warehouse.duckdb"
    if not path.exists():
        started = time.perf_counter()
        counts = run_child("generate", path, str(args.customers))
        print(f"generated {counts} in {time.perf_counter() - started:.1f} s")
    modes = ("assets", "rebuild", "baseline", "floor")
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    for n in range(args.runs):
        # Alternating, so a burst of other load on the machine falls on all of them alike.
        for mode in modes:
            runs[mode].append(run_child(mode, path))
        print(f"run {n + 1}: " + ", ".join(f"{m} {runs[m][-1]['seconds']:.1f} s" for m in modes))
    assets, rebuild, baseline = runs["assets"], runs["rebuild"], runs["baseline"]
    base_s = median(baseline, "seconds")
    assets_s, rebuild_s = median(assets, "seconds"), median(rebuild, "seconds")
    peak = max(r["peak_gb"] for r in assets + rebuild)
    first = assets[0]
    print(
        f"transactions: {first['transactions']:,}  medians of {args.runs} runs "
        "(each in a fresh process; seconds of every run in brackets):"
    )
    print(f"dagster start-up (apart): {median(assets, 'dagster_startup_s'):.2f} s")
    print(
        f"assets as Dagster materializes them ({first['assets']} assets, {first['checks']} "
        f"checks, failed: {', '.join(first['checks_failed']) or 'none'}): {assets_s:.1f} s "
        f"[{spread(assets)}], of which inside the steps {median(assets, 'steps_s'):.1f} s "
        f"(model step {median(assets, 'model_s'):.1f} s); peak memory "
        f"{max(r['peak_gb'] for r in assets):.2f} GB"
    )
    print(
        f"SQL only (model {median(rebuild, 'model_s'):.1f} s + marts): {rebuild_s:.1f} s "
        f"[{spread(rebuild)}]; checks, summaries, previews and charts add "
        f"{assets_s - rebuild_s:.1f} s ({assets_s / rebuild_s - 1:+.0%})"
    )
    print(
        f"hand-written cohort query (baseline): {base_s:.1f} s [{spread(baseline)}], "
        f"peak memory {max(r['peak_gb'] for r in baseline):.2f} GB"
    )
    print(
        f"ratio assets / baseline: {assets_s / base_s:.2f} (target <= 3); "
        f"SQL only / baseline: {rebuild_s / base_s:.2f}; peak: {peak:.2f} GB (target < 4)"
    )
    floor_s = median(runs["floor"], "seconds")
    print(
        f"floor (hand-written least work, no rules, no checks): {floor_s:.1f} s "
        f"[{spread(runs['floor'])}], ratio {floor_s / base_s:.2f}"
    )


if __name__ == "__main__":
    main()
