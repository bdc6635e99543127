"""The report page's snapshot computed from a real warehouse: all accounts, and each on its own."""

from __future__ import annotations

from pathlib import Path

from ltv_core.published_reports import variant_key
from ltv_pipeline.reports.publish import compute_reports
from tests.marts.cases import order_row, warehouse, write_orders
from tests.model.loading import load_csv, rebuild


def _customers(reports: dict, account_rows_key: str = "cohort-ltv") -> dict[str, int]:
    entry = reports[variant_key(account_rows_key, "net", "month")]
    customers = entry["columns"].index("customers")
    return {row[0]: int(row[customers]) for row in entry["rows"]}


def test_an_agency_snapshot_has_every_account_apart_and_together(ltv_home, tmp_path: Path):
    store_a = write_orders(
        tmp_path / "a.csv",
        [
            order_row(1, "01/05/2024", 10, 100, "ann@a.io"),
            order_row(2, "01/09/2024", 10, 100, "bob@a.io"),
        ],
    )
    store_b = write_orders(tmp_path / "b.csv", [order_row(1, "02/03/2024", 20, 40, "ann@a.io")])
    with warehouse(ltv_home) as conn:
        load_csv(conn, ltv_home, store_a, account="store-a")
        load_csv(conn, ltv_home, store_b, account="store-b")
        rebuild(conn)
        payload = compute_reports(conn)
    assert payload["status"] == "ready"
    assert payload["accounts"] == ["store-a", "store-b"]
    # The same email in two stores is two customers: the stores never mix.
    assert _customers(payload["reports"]) == {"2024-01": 2, "2024-02": 1}
    assert _customers(payload["by_account"]["store-a"]) == {"2024-01": 2}
    assert _customers(payload["by_account"]["store-b"]) == {"2024-02": 1}
    labels = payload["by_account"]["store-b"][variant_key("payment-plans", None, None)]["labels"]
    assert "account: store-b" in labels


def test_one_account_is_published_once(ltv_home, tmp_path: Path):
    orders = write_orders(tmp_path / "o.csv", [order_row(1, "01/05/2024", 10, 100, "a@a.io")])
    with warehouse(ltv_home) as conn:
        load_csv(conn, ltv_home, orders)
        rebuild(conn)
        payload = compute_reports(conn)
    assert payload["accounts"] == ["default"]
    assert payload["by_account"] == {}
