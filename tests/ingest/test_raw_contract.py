"""The pandera contract of the raw file assets, on frames shaped like one file's stored rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from ltv_core.formats.profiles import FormatCatalog
from ltv_pipeline.contracts.raw_files import contract_columns, contract_failures


def orders_rows(lines: list[int], emails: list[str]) -> pl.DataFrame:
    n = len(lines)
    return pl.DataFrame(
        {
            "account": ["default"] * n,
            "file_hash": ["a" * 64] * n,
            "line_number": lines,
            "order_id": [f"10{i}" for i in range(n)],
            "order_date": [dt.date(2024, 1, 2)] * n,
            "order_time": [dt.time(10, 0)] * n,
            "order_status": ["charged"] * n,
            "product_id": ["55501"] * n,
            "price": [Decimal("47.00")] * n,
            "quantity": [1] * n,
            "order_total": [Decimal("47.00")] * n,
            "customer_email": emails,
            "ordered_at": [dt.datetime(2024, 1, 2, 10, 0)] * n,
        },
        schema_overrides={
            "price": pl.Decimal(18, 2),
            "order_total": pl.Decimal(18, 2),
            "quantity": pl.Int32,
        },
    )


def test_valid_rows_pass(catalog: FormatCatalog) -> None:
    profile = catalog.profile("samcart-orders")
    frame = orders_rows([2, 3, 4], ["a@x.com", "b@x.com", "c@x.com"])
    assert set(contract_columns(profile)) <= set(frame.columns)
    assert contract_failures(frame, profile, catalog).height == 0
    # Unique lines need not come in order.
    shuffled = orders_rows([4, 2, 3], ["a@x.com", "b@x.com", "c@x.com"])
    assert contract_failures(shuffled, profile, catalog).height == 0


def test_a_line_stored_twice_and_a_bad_email_are_failure_cases(catalog: FormatCatalog) -> None:
    profile = catalog.profile("samcart-orders")
    frame = orders_rows([2, 3, 3], ["a@x.com", "no-at-sign", "c@x.com"])
    failures = contract_failures(frame, profile, catalog)
    found = {(row["column"], row["index"]) for row in failures.iter_rows(named=True)}
    assert ("customer_email", 1) in found
    assert {("line_number", 1), ("line_number", 2)} <= found
