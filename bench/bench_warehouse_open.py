"""What a write open of an existing warehouse costs over a bare DuckDB connect: the schema
check, and the clean-up of abandoned loads. Rough (median of 50 opens); no target.

    PYTHONPATH=. .venv/bin/python bench/bench_warehouse_open.py [--files 30] [--opens 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from ltv_core.formats.profiles import load_catalog
from ltv_pipeline.warehouse.connection import connect_warehouse
from ltv_pipeline.warehouse.landed import store_file_records


def median_ms(open_and_close: Callable[[], None], opens: int) -> float:
    open_and_close()
    samples = []
    for _ in range(opens):
        started = time.perf_counter()
        open_and_close()
        samples.append(time.perf_counter() - started)
    return sorted(samples)[opens // 2] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=30, help="files landed in the warehouse")
    parser.add_argument("--opens", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "warehouse.duckdb"
        conn = connect_warehouse(path)
        profile = load_catalog().profile("samcart-orders")
        for number in range(args.files):
            store_file_records(
                conn,
                profile,
                "default",
                f"file{number}",
                "SELECT 2 AS line_number, '1' AS order_id, 'P' AS product_name, true AS accepted",
            )
        conn.close()
        openers: dict[str, Callable[[], None]] = {
            "duckdb.connect": lambda: duckdb.connect(str(path)).close(),
            "write open": lambda: connect_warehouse(path).close(),
            "read-only open": lambda: connect_warehouse(path, read_only=True).close(),
        }
        for name, open_and_close in openers.items():
            print(f"{name:15} median {median_ms(open_and_close, args.opens):6.1f} ms")


if __name__ == "__main__":
    main()
