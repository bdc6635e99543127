"""`ltv report` as a user runs it: options, formats, safe CSV, and waiting for a busy warehouse."""

from __future__ import annotations

import json
import time

from ltv_pipeline.cli.main import main
from tests.marts.cases import order_row, warehouse, write_orders
from tests.model.loading import load_csv, rebuild
from tests.support import LIMITED_SAMPLE, ORDERS_SAMPLE, RECURRING_SAMPLE, warehouse_held


def load_samples(settings) -> None:
    with warehouse(settings) as conn:
        for path in (ORDERS_SAMPLE, RECURRING_SAMPLE, LIMITED_SAMPLE):
            load_csv(conn, settings, path)
        rebuild(conn)


def test_a_report_before_any_model_says_what_to_do(ltv_home, capsys):
    assert main(["report", "cohort-ltv"]) == 1
    assert "run `ltv materialize` first" in capsys.readouterr().err


def test_each_report_prints_in_every_format(ltv_home, capsys):
    load_samples(ltv_home)
    for report in ("cohort-ltv", "front-end-products", "payment-plans", "subscriptions", "refunds"):
        assert main(["report", report, "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert rows, report
        assert main(["report", report]) == 0
        table = capsys.readouterr().out
        assert "# as of 2024-04-14 (latest day in the data)" in table
    assert main(["report", "cohort-ltv", "--period", "week", "--format", "csv"]) == 0
    weeks = [line.split(",")[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert weeks == ["2024-W01", "2024-W02", "2024-W05"]
    assert main(["report", "cohort-ltv", "--account", "default", "--format", "csv"]) == 0
    cohorts = [line.split(",")[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert cohorts == ["2024-01", "2024-02"]
    assert main(["report", "front-end-products", "--format", "csv"]) == 0
    header, first = capsys.readouterr().out.splitlines()[:2]
    assert header.endswith(
        ",eligible_d0,eligible_d7,eligible_d30,eligible_d60,eligible_d90,"
        "eligible_d180,eligible_d365,eligible_all"
    )
    # A product is a pooled group: with one customer (fewer than 30) every cell is empty, and
    # the eligible counts say over how many customers each would average.
    assert first == "55502,Inner Circle Membership,1,,,,,,,,,1,1,1,1,1,0,0,1"


def test_an_unknown_account_exits_2_and_names_the_known_ones(ltv_home, capsys):
    load_samples(ltv_home)
    assert main(["report", "cohort-ltv", "--account", "nosuchstore"]) == 2
    printed = capsys.readouterr()
    assert printed.err.strip() == "ltv report: unknown account 'nosuchstore'; known: default"
    assert printed.out == ""


def test_csv_cells_that_look_like_formulas_are_neutralised(ltv_home, tmp_path, capsys):
    row = order_row(1, "03/01/2024", 5, 10, "a@x.io")
    row[5] = '=HYPERLINK("http://evil")'
    with warehouse(ltv_home) as conn:
        load_csv(conn, ltv_home, write_orders(tmp_path / "orders.csv", [row]))
        rebuild(conn)
    assert main(["report", "front-end-products", "--format", "csv"]) == 0
    assert "'=HYPERLINK" in capsys.readouterr().out


def test_a_report_waits_while_another_process_holds_the_warehouse(ltv_home, capsys):
    load_samples(ltv_home)
    with warehouse_held(ltv_home.warehouse_path, seconds=2) as holder:
        started = time.monotonic()
        assert main(["report", "cohort-ltv", "--format", "csv"]) == 0
        assert time.monotonic() - started > 0.5  # it waited for the lock instead of failing
        assert capsys.readouterr().out.startswith("cohort,customers,ltv_d0")
        holder.wait(timeout=10)


def test_refund_rates_count_zero_refunded_orders_as_zero(ltv_home, capsys):
    load_samples(ltv_home)
    assert main(["report", "refunds", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "cohort,2024-01,2024-01,1798.00,97.00,0.0539,6,1,0.1667"
    assert lines[2] == "cohort,2024-02,2024-02,2997.00,0.00,0.0000,3,0,0.0000"
