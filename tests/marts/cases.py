"""Tiny hand-made SamCart inputs for the hand-computed metric cases and the property tests."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ltv_core.settings import Settings
from ltv_pipeline.defs.marts.build import MARTS as MART_DEFINITIONS
from ltv_pipeline.warehouse.schema_version import ensure_schema
from tests.model.loading import load_csv, load_webhooks, rebuild

ORDER_HEADER = [
    "Order ID",
    "Order Date",
    "Order Time",
    "Order Status",
    "Product ID",
    "Product Name",
    "Price",
    "Customer Email",
]
MARTS = tuple(MART_DEFINITIONS)  # every mart, from the one list the pipeline builds


def order_row(order_id, day: str, product, price, email, status="Charged", time="10:00:00"):
    return [
        str(order_id),
        day,
        time,
        status,
        str(product),
        f"Product {product}",
        f"${price:,.2f}",
        email,
    ]


def write_orders(path: Path, rows: list[list[str]]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ORDER_HEADER)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def webhook(event_type: str, order_id, product, price, email, **extra) -> bytes:
    body = {
        "type": event_type,
        "customer": {"email": email},
        "order": {"id": order_id, "total": str(price), **extra.pop("order", {})},
        "product": {"id": product, "name": f"Product {product}", "price": str(price)},
        **extra,
    }
    return json.dumps(body).encode()


@contextmanager
def warehouse(settings: Settings, name: str = "warehouse") -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(settings.home / f"{name}.duckdb"))
    ensure_schema(conn)
    try:
        yield conn
    finally:
        conn.close()


def build(
    settings: Settings,
    files: list[Path],
    hooks: list[tuple[bytes, dt.datetime]] = (),
    name: str = "warehouse",
) -> dict[str, list[tuple]]:
    """Load files and webhooks into a fresh warehouse, build everything, return every mart."""
    with warehouse(settings, name) as conn:
        for path in files:
            load_csv(conn, settings, path)
        if hooks:
            load_webhooks(conn, list(hooks))
        rebuild(conn)
        return {m: conn.execute(f"SELECT * FROM {m} ORDER BY ALL").fetchall() for m in MARTS}
