"""Pooled groups (docs/metrics.md): a front-end product or all customers together average a
day-N cell over the members at least N days old, and leave it empty below 30 of them; cohort
rows keep the strict rule. And the headline figures read from the marts."""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.reports.build import build_report
from tests.marts.cases import order_row, warehouse, write_orders
from tests.model.loading import load_csv, rebuild

START = dt.date(2024, 1, 1)


def _rows(old: int, young: int) -> list[list[str]]:
    """`old` customers of product 1 with a day-30 repeat ($10 + $5), `young` ones bought on the
    as-of day ($10), and the as-of day set 60 days after the first."""
    rows = []
    for n in range(old):
        day = START + dt.timedelta(days=n % 20)
        rows.append(order_row(1000 + n, day.strftime("%m/%d/%Y"), 1, 10, f"old{n}@x.io"))
        later = day + dt.timedelta(days=30)
        rows.append(order_row(5000 + n, later.strftime("%m/%d/%Y"), 2, 5, f"old{n}@x.io"))
    as_of = START + dt.timedelta(days=60)
    for n in range(young):
        rows.append(order_row(9000 + n, as_of.strftime("%m/%d/%Y"), 1, 10, f"young{n}@x.io"))
    return rows


def _report(ltv_home, tmp_path, rows, report):
    with warehouse(ltv_home, f"w{len(rows)}") as conn:
        load_csv(conn, ltv_home, write_orders(tmp_path / f"o{len(rows)}.csv", rows))
        rebuild(conn)
        return build_report(conn, report)


def test_a_product_cell_averages_over_its_eligible_members(ltv_home, tmp_path):
    columns, rows, labels = _report(ltv_home, tmp_path, _rows(30, 5), "front-end-products")
    (product,) = [dict(zip(columns, r, strict=True)) for r in rows]
    assert product["customers"] == 35
    # Day 0 counts everyone; day 30 only the 30 old enough, each with their $15.
    assert (product["ltv_d0"], product["eligible_d0"]) == ("10.00", 35)
    assert (product["ltv_d30"], product["eligible_d30"]) == ("15.00", 30)
    assert product["ltv_d90"] == "" and product["eligible_d90"] == 0
    assert any("pooled" in label for label in labels)


def test_a_product_cell_is_empty_below_30_eligible_and_cohorts_stay_strict(ltv_home, tmp_path):
    columns, rows, _ = _report(ltv_home, tmp_path, _rows(29, 5), "front-end-products")
    (product,) = [dict(zip(columns, r, strict=True)) for r in rows]
    assert (product["ltv_d30"], product["eligible_d30"]) == ("", 29)
    columns, rows, _ = _report(ltv_home, tmp_path, _rows(30, 5), "cohort-ltv")
    # The 2024-01 cohort is strict: all its members are 30 days old, so the cell is filled;
    # the young cohort (2024-03) is not, so its day-30 cell is empty.
    cohorts = {r[0]: dict(zip(columns, r, strict=True)) for r in rows}
    assert cohorts["2024-01"]["ltv_d30"] == "15.00"
    assert cohorts["2024-03"]["ltv_d30"] == ""


def test_the_overview_sums_the_marts(ltv_home, tmp_path):
    columns, rows, _ = _report(ltv_home, tmp_path, _rows(30, 5), "overview")
    (overview,) = [dict(zip(columns, r, strict=True)) for r in rows]
    assert overview["customers"] == 35
    assert overview["net_revenue"] == "500.00"  # 30 x $15 + 5 x $10
    assert (overview["ltv_d30"], overview["eligible_d30"]) == ("15.00", 30)
    assert overview["repeat_rate"] == "0.8571"  # 30 of 35 bought again on a later day
    assert overview["refund_rate"] == "0.0000"
    assert (overview["active_subscribers"], overview["mrr"]) == (0, "0.00")
