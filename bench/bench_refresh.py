"""Refresh benchmark (issue 14's performance targets): what taking in a few webhook deliveries
costs on a built history against building the same data from scratch, end to end against one
DuckDB query from the CSV, and `ltv report` against `ltv sql "select 1"`. Every figure is a whole
command (start-up included) timed against a baseline measured in the same run.

An Orders export of `--lines` lines (bench_orders_import's generator; 2,000,000 by default) is
written under a temporary folder, then:

1. end to end: home A, fresh: `ltv import` + `ltv materialize` + `ltv report cohort-ltv`, each
   step timed, against one Python process running one hand-written DuckDB query from the CSV to
   the same net cohort table (bench_ltv_marts' baseline query, fed by read_csv). The query's
   cohorts, customer counts and all-time LTV are checked against the report's.
2. report: `ltv report cohort-ltv` against `ltv sql "select 1"` on home A (medians, interleaved).
3. refresh: `--deliveries` webhook bodies (new customers, new orders of exported customers and
   refunds of exported lines, in turn) are posted to a real sidecar (`ltv serve-webhooks`'s
   process) on a loopback port of home A, which seals them into landing segments; then
   `ltv materialize` on A is timed. Home B is fresh: `ltv import` of the same export (timed
   apart), the same sealed segment files copied in (same receive times, so the same data), and
   `ltv materialize` timed. Ratio A/B. Then every table and view of the two warehouses, except
   raw inputs and bookkeeping (listed with their reasons when the run prints), is compared with
   EXCEPT ALL both ways.

    .venv/bin/python bench/bench_refresh.py [--lines 2000000] [--deliveries 20] [--runs 3]
        [--quick]

Targets (issue 14): refresh A/B <= 0.10 with identical tables; end to end <= 10x; report <= 1.5x.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ltv_marts import baseline_sql
from bench_orders_import import PRODUCTS, generate_orders
from bench_run_overhead import home_env, land_deliveries

from ltv_core.webhook_segments import TABLE as SEGMENT_TABLE
from ltv_core.webhook_segments import Layout
from ltv_pipeline.demo.business import Customer, Product
from ltv_pipeline.demo.webhooks import _body
from ltv_pipeline.metrics.predictive.tables import PREDICTION_TABLES

BIN = Path(sys.executable).parent
# Tables and views left out of the A/B comparison: they differ by nature between a home that was
# refreshed and one built at once, or they are the inputs both homes were given.
NOT_COMPARED_PREFIXES = {
    "raw_": "raw inputs, the same files and segments in both homes",
    "landed_": "raw inputs, the same files and segments in both homes",
}
NOT_COMPARED = {
    "webhook_deliveries": "landed deliveries (the inputs), with the segment each came from",
    "source_files": "bookkeeping of the imported files (the inputs)",
    "rejects": "bookkeeping of the imported files (the inputs)",
    "schema_version": "bookkeeping: the layout version",
    "customer_changes": "bookkeeping: a log of builds, by sequence number (A logged more builds)",
    "customer_changes_applied": "bookkeeping: sequence numbers each consumer applied",
    "left_out_partitions": "bookkeeping: when a partition was left out (timestamps of runs)",
    **{
        table: "predictions: refitted at most daily (a refresh within the day keeps the earlier "
        "fit), each row stamped with its fit time"
        for table in PREDICTION_TABLES
    },
    "model_identities": "bookkeeping: the ids of raw rows the model has seen, appended by each "
    "incremental build (a full rebuild writes each once)",
}
NOT_COMPARED_SCHEMAS = {"landed": "raw inputs: the landed cells of each imported file"}
# The `transactions` the baseline query reads, straight from the CSV: one row per export line;
# a Refunded line nets to 0 on its order day and a Partially Refunded one keeps its price, as
# the metric rules have it for an export with no webhook refund.
CSV_TRANSACTIONS = """
SELECT 'default' AS account, lower(trim("Customer Email")) AS customer_key,
    'order_line' AS kind, CAST(strptime("Order Date", '%m/%d/%Y') AS DATE) AS transaction_day,
    CASE WHEN "Order Status" = 'Refunded' THEN 0
         ELSE CAST(replace(replace("Price", '$', ''), ',', '') AS DECIMAL(18, 2)) END AS amount
FROM read_csv('{path}', header = true, all_varchar = true)
WHERE "Order Status" <> 'Declined'
"""
BASELINE_SCRIPT = (
    "import duckdb, json, sys; "
    "conn = duckdb.connect(); conn.execute('SET enable_progress_bar = false'); "
    "rows = conn.execute(sys.argv[1]).fetchall(); "
    "print(json.dumps([[r[0], r[1], float(r[-1])] for r in rows]))"
)


def ltv(home: Path, *args: str) -> tuple[float, str]:
    """Run an `ltv` command on `home`: its wall time (start-up included) and its output."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "ltv"), *args], env=home_env(home), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"ltv {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return seconds, done.stdout


def export_lines(path: Path, count: int) -> list[dict[str, str]]:
    """The first `count` Charged lines of the export, each of a different customer."""
    lines: list[dict[str, str]] = []
    seen: set[str] = set()
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["Order Status"] == "Charged" and row["Customer Email"] not in seen:
                seen.add(row["Customer Email"])
                lines.append(row)
                if len(lines) == count:
                    break
    return lines


def customer_of(row: dict[str, str]) -> Customer:
    return Customer(
        row["Customer First Name"],
        row["Customer Last Name"],
        row["Customer Email"],
        row["Customer Phone Number"],
        row["Billing Address City"],
        row["Billing Address State"],
        row["Billing Address Zip"],
    )


def deliveries(export: Path, count: int) -> list[dict[str, Any]]:
    """In turn: a new customer's order, a new order of an exported customer, a refund of an
    exported line (all of its price)."""
    bodies: list[dict[str, Any]] = []
    exported = export_lines(export, count)
    for n in range(count):
        product_id, name, price = PRODUCTS[n % len(PRODUCTS)]
        product = Product(product_id, name.strip('"').replace('""', '"'), Decimal(price))
        order_id = 900_000_000 + n
        if n % 3 == 0:
            buyer = Customer("New", f"Buyer{n}", f"new.buyer.{n}@example.com", "", "", "", "")
            bodies.append(_body("Order", buyer, order_id, product, product.price, f"ch_new{n}"))
        elif n % 3 == 1:
            buyer = customer_of(exported[n])
            bodies.append(_body("Order", buyer, order_id, product, product.price, f"ch_again{n}"))
        else:
            row = exported[n]
            line = Product(
                row["Product ID"],
                row["Product Name"],
                Decimal(row["Price"].lstrip("$").replace(",", "")),
            )
            bodies.append(
                _body(
                    "Refund",
                    customer_of(row),
                    int(row["Order ID"]),
                    line,
                    line.price,
                    "",
                    refund_transaction_id=f"re_bench{n}",
                )
            )
    return bodies


def landed_count(home: Path) -> int:
    total = 0
    for segment in Layout(home / "webhooks").sealed_segments():
        conn = duckdb.connect(str(segment), read_only=True)
        total += conn.execute(f"SELECT count(*) FROM {SEGMENT_TABLE}").fetchall()[0][0]
        conn.close()
    return total


def baseline(export: Path) -> tuple[float, list[list[Any]]]:
    """One Python process, one DuckDB query from the CSV to the net cohort table."""
    query = (
        f"WITH transactions AS ({CSV_TRANSACTIONS.format(path=export)}) "
        f"SELECT * FROM ({baseline_sql()})"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", BASELINE_SCRIPT, query], capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"the baseline query failed:\n{done.stderr}")
    return time.perf_counter() - started, json.loads(done.stdout.splitlines()[-1])


def report_rows(output: str) -> list[list[Any]]:
    """[cohort, customers, all-time LTV] of `ltv report cohort-ltv --format csv`."""
    rows = list(csv.DictReader(output.splitlines()))
    return [[r["cohort"], int(r["customers"]), float(r["ltv_all"])] for r in rows]


def compared_tables(
    conn: duckdb.DuckDBPyConnection, database: str
) -> tuple[list[str], dict[str, str]]:
    """The tables and views of `database` to compare, and those left out with the reason."""
    names = conn.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = $db "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
        "WHERE database_name = $db AND NOT internal ORDER BY ALL",
        {"db": database},
    ).fetchall()
    compared: list[str] = []
    left_out: dict[str, str] = {}
    for schema, name in names:
        reason = NOT_COMPARED_SCHEMAS.get(schema) or NOT_COMPARED.get(name)
        reason = reason or next(
            (why for prefix, why in NOT_COMPARED_PREFIXES.items() if name.startswith(prefix)), None
        )
        if reason:
            left_out[f"{schema}.*" if schema in NOT_COMPARED_SCHEMAS else name] = reason
        else:
            compared.append(f'"{schema}"."{name}"')
    return compared, left_out


def differing_tables(a: Path, b: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """EXCEPT ALL both ways over every compared table: (compared, differing, left out)."""
    conn = duckdb.connect()
    conn.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    conn.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    compared, left_out = compared_tables(conn, "a")
    differing = [f"{t} (only in B)" for t in compared_tables(conn, "b")[0] if t not in compared]
    for table in compared:
        try:
            extra = conn.execute(
                f"SELECT (SELECT count(*) FROM (FROM a.{table} EXCEPT ALL FROM b.{table})) "
                f"+ (SELECT count(*) FROM (FROM b.{table} EXCEPT ALL FROM a.{table}))"
            ).fetchall()[0][0]
        except duckdb.Error as exc:  # not in B, or not of the same columns
            extra = str(exc).splitlines()[0]
        if extra:
            differing.append(
                f"{table} ({extra} rows)" if isinstance(extra, int) else f"{table} ({extra})"
            )
    conn.close()
    return compared, differing, left_out


def median_interleaved(runs: int, *commands: tuple[Path, tuple[str, ...]]) -> list[float]:
    """The median seconds of each `ltv` command, run in turn `runs` times."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for i, (home, args) in enumerate(commands):
            times[i].append(ltv(home, *args)[0])
    return [statistics.median(t) for t in times]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000, help="Orders export lines")
    parser.add_argument("--deliveries", type=int, default=20, help="webhook deliveries")
    parser.add_argument("--runs", type=int, default=3, help="runs of the short commands")
    parser.add_argument(
        "--quick", action="store_true", help="one run of the short commands (a smoke test)"
    )
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="ltv-bench-refresh-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        export = generate_orders(root / "orders.csv", args.lines)
        bodies = deliveries(export, args.deliveries)
        print(f"{args.lines:,}-line export written in {time.perf_counter() - started:.1f} s")
        home_a, home_b = root / "a", root / "b"
        steps: dict[str, float] = {}

        # 1. End to end, on home A.
        steps["A: ltv import"], _ = ltv(home_a, "import", str(export))
        steps["A: ltv materialize (build)"], _ = ltv(home_a, "materialize")
        steps["A: ltv report cohort-ltv"], output = ltv(
            home_a, "report", "cohort-ltv", "--format", "csv"
        )
        end_to_end = sum(steps.values())
        steps["A: end to end (the three above)"] = end_to_end
        timed = [baseline(export) for _ in range(runs)]
        steps["baseline: DuckDB query from the CSV"] = statistics.median(t for t, _ in timed)
        agrees = timed[0][1] == report_rows(output)
        query_s = steps["baseline: DuckDB query from the CSV"]
        e2e_ratio = end_to_end / query_s
        print(
            f"end to end: {end_to_end:.1f} s against {query_s:.2f} s: ratio {e2e_ratio:.2f} "
            f"(target <= 10); the query's cohort table agrees with the report's: "
            f"{'yes' if agrees else 'no'}"
        )

        # 2. Report against select 1, on the built home.
        report_s, select_s = median_interleaved(
            runs, (home_a, ("report", "cohort-ltv")), (home_a, ("sql", "select 1"))
        )
        steps["A: ltv report cohort-ltv (median)"] = report_s
        steps['A: ltv sql "select 1" (median)'] = select_s
        report_ratio = report_s / select_s
        print(f"report: {report_s:.2f} s against {select_s:.2f} s: ratio {report_ratio:.2f}")

        # 3. Refresh: A takes in the deliveries; B builds the same data from scratch.
        land_deliveries(home_a, bodies)
        landed = landed_count(home_a)
        if landed != len(bodies):
            sys.exit(f"the sidecar sealed {landed} deliveries of {len(bodies)}")
        steps["B: ltv import"], _ = ltv(home_b, "import", str(export))
        sealed_b = Layout(home_b / "webhooks").sealed
        sealed_b.mkdir(parents=True, exist_ok=True)
        for segment in Layout(home_a / "webhooks").sealed_segments():
            shutil.copy2(segment, sealed_b / segment.name)
        steps["A: ltv materialize (refresh)"], _ = ltv(home_a, "materialize")
        steps["B: ltv materialize (from scratch)"], _ = ltv(home_b, "materialize")
        refresh_ratio = (
            steps["A: ltv materialize (refresh)"] / steps["B: ltv materialize (from scratch)"]
        )
        print(f"refresh: {len(bodies)} deliveries landed; ratio A/B {refresh_ratio:.3f}")
        compared, differing, left_out = differing_tables(
            home_a / "warehouse.duckdb", home_b / "warehouse.duckdb"
        )
        print(f"compared {len(compared)} tables and views; left out:")
        for name, reason in left_out.items():
            print(f"  {name}: {reason}")
        identical = f"no ({', '.join(differing)})" if differing else "yes"
        print(f"tables identical: {identical}")

    print("\nfigure                               ratio   target")
    print(f"refresh ratio (A/B)                  {refresh_ratio:6.3f}  <= 0.10")
    print(f"end to end ratio                     {e2e_ratio:6.2f}  <= 10")
    print(f"report ratio                         {report_ratio:6.2f}  <= 1.5")
    print(f"tables identical (A refreshed, B from scratch): {identical}")
    print("\nstep                                     seconds")
    for step, seconds in steps.items():
        print(f"{step:40} {seconds:8.2f}")
    return 0 if not differing else 1


if __name__ == "__main__":
    sys.exit(main())
