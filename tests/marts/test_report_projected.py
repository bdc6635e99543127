"""`ltv report cohort-ltv --projected`: projected columns beside the observed ones, read from the
predictive tables (filled here by plain SQL in a real warehouse), or saying they are not there."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ltv_pipeline.cli.main import main
from ltv_pipeline.metrics.predictive.prediction import LEFT_OUT
from tests.marts.cases import order_row, warehouse, write_orders
from tests.marts.projections import FITTED_AT, add_fit, add_projections
from tests.marts.test_report_cli import load_samples
from tests.model.loading import load_csv, rebuild

OBSERVED = ["ltv_d0", "ltv_d7", "ltv_d30", "ltv_d60", "ltv_d90", "ltv_d180", "ltv_d365"]
PROJECTED = [f"projected_net_{c}" for c in OBSERVED[1:]]


def report_csv(capsys, *args: str) -> list[dict[str, str]]:
    assert main(["report", "cohort-ltv", "--format", "csv", *args]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def fitted_samples(ltv_home, *, reliable: bool = True) -> None:
    """The samples with a fit and a projection of 1000 + the horizon's days per censored cell,
    and one stale projection for an observed cell (a fit older than the marts)."""
    load_samples(ltv_home)
    with warehouse(ltv_home) as conn:
        reason = None if reliable else "fewer than 100 repeat customers (1)"
        add_fit(conn, "default", reliable=reliable, reason=reason)
        add_projections(conn, "default", "1000 + horizon_days", reliable=reliable)
        conn.execute(
            "INSERT INTO cohort_ltv_projected VALUES ('default', 'first_order', 'month', "
            f"'2024-01', 'd30', 9999, 2, TIMESTAMP '{FITTED_AT}', true)"
        )


def test_projected_columns_fill_only_the_censored_cells(ltv_home, capsys):
    fitted_samples(ltv_home)
    observed = report_csv(capsys)
    projected = report_csv(capsys, "--projected")
    # The observed cells are the same, to the character; the projections are extra columns.
    assert [{k: r[k] for k in observed[0]} for r in projected] == observed
    assert list(projected[0]) == [*observed[0], *PROJECTED]
    by_cohort = {r["cohort"]: r for r in projected}
    assert {c: by_cohort["2024-01"][c] for c in PROJECTED} == {
        "projected_net_ltv_d7": "",
        "projected_net_ltv_d30": "",  # observed: the stale projection is never shown
        "projected_net_ltv_d60": "",
        "projected_net_ltv_d90": "",
        "projected_net_ltv_d180": "1180.00",
        "projected_net_ltv_d365": "1365.00",
    }
    assert by_cohort["2024-02"]["ltv_d90"] == ""
    assert by_cohort["2024-02"]["projected_net_ltv_d90"] == "1090.00"
    for row in projected:
        for column in PROJECTED:
            observed_cell = row[column.removeprefix("projected_net_")]
            assert not (observed_cell and row[column]), (row["cohort"], column)

    assert main(["report", "cohort-ltv", "--projected"]) == 0
    table = capsys.readouterr().out
    assert "projected_net_ltv_d365" in table.splitlines()[0]
    assert (
        "# projected from the fit of 2024-04-15 03:00 UTC (data up to 2024-04-14, "
        "BG/NBD + Gamma-Gamma); reliable" in table
    )
    assert f"# projected: {LEFT_OUT}" in table

    assert main(["report", "cohort-ltv", "--projected", "--format", "json"]) == 0
    rows = {r["cohort"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["2024-01"]["projected_net_ltv_d365"] == 1365.0
    assert rows["2024-01"]["ltv_d365"] is None
    assert rows["2024-01"]["projected_net_ltv_d30"] is None


def test_an_unreliable_fit_projects_nothing_and_says_why(ltv_home, capsys):
    fitted_samples(ltv_home, reliable=False)
    rows = report_csv(capsys, "--projected")
    # Only the stale row (for an observed cell) has a value, and it is never shown.
    assert all(r[c] == "" for r in rows for c in PROJECTED)
    assert main(["report", "cohort-ltv", "--projected"]) == 0
    assert "; not reliable: fewer than 100 repeat customers (1)" in capsys.readouterr().out


def test_without_any_fit_the_columns_are_empty_and_the_labels_say_so(ltv_home, capsys):
    load_samples(ltv_home)  # no ltv_model_fits, no cohort_ltv_projected
    rows = report_csv(capsys, "--projected")
    assert list(rows[0])[-len(PROJECTED) :] == PROJECTED
    assert all(r[c] == "" for r in rows for c in PROJECTED)
    assert main(["report", "cohort-ltv", "--projected"]) == 0
    assert "# projected: predictions are not fitted yet" in capsys.readouterr().out


def test_projected_needs_the_net_cohort_report(ltv_home, capsys):
    load_samples(ltv_home)
    assert main(["report", "cohort-ltv", "--projected", "--basis", "gross"]) == 2
    assert "--basis net" in capsys.readouterr().err
    assert main(["report", "refunds", "--projected"]) == 2
    assert "cohort-ltv" in capsys.readouterr().err


def agency(ltv_home, tmp_path: Path, *, b_reliable: bool = True) -> None:
    """store-a's January customer is 196 days old on the as-of day, store-b's only 167: the
    January cohort's day 180 is observed in store-a and censored in store-b."""
    store_a = write_orders(
        tmp_path / "a.csv",
        [
            order_row(1, "01/01/2024", 10, 100, "ann@a.io"),
            order_row(2, "07/15/2024", 10, 20, "ann@a.io"),
        ],
    )
    store_b = write_orders(tmp_path / "b.csv", [order_row(1, "01/30/2024", 20, 40, "bob@b.io")])
    with warehouse(ltv_home) as conn:
        load_csv(conn, ltv_home, store_a, account="store-a")
        load_csv(conn, ltv_home, store_b, account="store-b")
        rebuild(conn)
        add_fit(conn, "store-a", calibration_end="2024-07-15")
        add_projections(conn, "store-a", "300", reliable=True)
        reason = None if b_reliable else "fewer than 100 repeat customers (0)"
        add_fit(conn, "store-b", reliable=b_reliable, reason=reason, calibration_end="2024-07-15")
        add_projections(conn, "store-b", "50 + horizon_days / 73", reliable=b_reliable)


def test_all_accounts_weigh_each_accounts_projection_by_its_customers(ltv_home, tmp_path, capsys):
    agency(ltv_home, tmp_path)
    january = report_csv(capsys, "--projected", "--account", "store-b")[0]
    assert (january["projected_net_ltv_d180"], january["projected_net_ltv_d365"]) == (
        "52.47",  # 50 + 180 / 73
        "55.00",
    )
    assert report_csv(capsys, "--projected", "--account", "store-a")[0]["ltv_d180"] == "100.00"
    together = report_csv(capsys, "--projected")[0]
    assert together["customers"] == "2" and together["ltv_d180"] == ""
    # store-a's observed $100.00 and store-b's projected $52.47, one customer each.
    assert together["projected_net_ltv_d180"] == "76.24"
    assert together["projected_net_ltv_d365"] == "177.50"  # (300 + 55) / 2
    assert main(["report", "cohort-ltv", "--projected"]) == 0
    table = capsys.readouterr().out
    assert "# projected for store-a from the fit of 2024-04-15 03:00 UTC" in table
    assert "# projected for store-b from the fit of" in table


def test_a_combined_cell_without_every_accounts_projection_stays_empty(ltv_home, tmp_path, capsys):
    agency(ltv_home, tmp_path, b_reliable=False)
    together = report_csv(capsys, "--projected")[0]
    assert together["projected_net_ltv_d180"] == ""
    assert together["projected_net_ltv_d365"] == ""
    assert main(["report", "cohort-ltv", "--projected"]) == 0
    assert "store-b from the fit of" in capsys.readouterr().out


def test_projections_of_an_older_fit_than_the_labels_name_are_not_shown(ltv_home, capsys):
    """A run stopped between the fit and its projections leaves the new fit beside the old
    projections: showing them under the new fit's date would misdate them."""
    fitted_samples(ltv_home)
    with warehouse(ltv_home) as conn:
        conn.execute("UPDATE ltv_model_fits SET fitted_at = fitted_at + INTERVAL 1 DAY")
    rows = report_csv(capsys, "--projected")
    assert all(row[column] == "" for row in rows for column in PROJECTED)
