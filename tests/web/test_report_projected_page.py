"""The report page's "Show projected" switch, on a snapshot published from a real warehouse
whose predictive tables are filled by plain SQL (the page reads only the snapshot)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from ltv_core.published_reports import read_published, variant_key
from ltv_pipeline.metrics.predictive.prediction import LEFT_OUT
from ltv_pipeline.reports.publish import publish_reports
from ltv_web.app import create_app
from tests.marts.cases import warehouse
from tests.marts.projections import add_fit, add_projections
from tests.marts.test_report_cli import load_samples
from tests.support import LOCAL_PAGES_URL

PROJECTED_KEY = variant_key("cohort-ltv", "net", "month", projected=True)


def publish(ltv_home, *, fitted: bool, reliable: bool = True) -> None:
    load_samples(ltv_home)
    with warehouse(ltv_home) as conn:
        if fitted:
            reason = None if reliable else "fewer than 100 repeat customers (1)"
            add_fit(conn, "default", reliable=reliable, reason=reason)
            add_projections(conn, "default", "1000 + horizon_days", reliable=reliable)
        publish_reports(conn, ltv_home.published_dir)


@pytest.fixture
def client(ltv_home) -> TestClient:
    return TestClient(create_app(ltv_home), base_url=LOCAL_PAGES_URL)


def cell(html: str, cohort: str, column: str) -> str:
    row = re.search(rf'<tr data-key="{cohort}">(.*?)</tr>', html, re.S).group(1)
    return re.search(rf'<td data-col="{column}"[^>]*>.*?</td>', row, re.S).group(0)


def test_the_snapshot_carries_the_projected_columns_and_the_fit(ltv_home):
    publish(ltv_home, fitted=True)
    document = read_published(ltv_home.published_dir)
    entry = document["reports"][PROJECTED_KEY]
    assert entry["columns"][-1] == "projected_net_ltv_d365"
    rows = {r[0]: dict(zip(entry["columns"], r, strict=True)) for r in entry["rows"]}
    assert rows["2024-01"]["projected_net_ltv_d365"] == "1365.00"
    assert rows["2024-01"]["projected_net_ltv_d30"] == ""  # observed
    assert entry["projection"] == {
        "method": "BG/NBD + Gamma-Gamma",
        "left_out": LEFT_OUT,
        "fits": [
            {
                "account": "default",
                "fitted_at": "2024-04-15 03:00",
                "calibration_end": "2024-04-14",
                "reliable": True,
                "reason": None,
            }
        ],
    }
    # The observed table is published as before, without projected columns.
    plain = document["reports"][variant_key("cohort-ltv", "net", "month")]
    assert not any(c.startswith("projected") for c in plain["columns"])


def test_show_projected_draws_projected_cells_apart(client, ltv_home):
    publish(ltv_home, fitted=True)
    off = client.get("/report").text
    assert '<input type="checkbox" id="projected" name="projected" value="1">' in off
    assert "predictions are not fitted yet" not in off
    assert 'class="censored projected"' not in off and 'class="projected"' not in off

    on = client.get("/report?projected=1").text
    assert 'id="projected" name="projected" value="1" checked' in on
    assert "Projected from the fit of 2024-04-15 03:00 UTC (BG/NBD + Gamma-Gamma); reliable." in on
    assert "Subscription rebills and plan installments are scheduled, not chosen" in on
    projected = cell(on, "2024-01", "ltv_d365")
    assert 'data-value=""' in projected and 'data-projected="1365.00"' in projected
    assert "<em>$1,365.00</em>" in projected and ">projected</span>" in projected
    # An observed cell is shown as observed (the stored projection is only for censored ones).
    assert cell(on, "2024-01", "ltv_d30") == cell(off, "2024-01", "ltv_d30")
    assert "projected_net" not in re.search(r"<thead>.*?</thead>", on, re.S).group(0)
    # The curves: dashed projected segments and a legend line, only when the switch is on.
    chart = re.search(r'<svg[^>]*class="chart".*?</svg>', on, re.S).group(0)
    assert re.search(r'<line class="projected"[^>]*stroke-dasharray="4 4"', chart)
    assert "projected (not observed)" in chart
    # The download is `ltv report cohort-ltv --projected --format csv`.
    link = re.search(r'id="cohort-ltv-csv" href="([^"]+)"', on).group(1).replace("&amp;", "&")
    rows = list(csv.DictReader(io.StringIO(client.get(link).text)))
    assert rows[0]["projected_net_ltv_d365"] == "1365.00" and rows[0]["ltv_d365"] == ""
    assert "--projected --format csv" in on


def test_an_unreliable_fit_says_why_and_projects_nothing(client, ltv_home):
    publish(ltv_home, fitted=True, reliable=False)
    on = client.get("/report?projected=1").text
    assert "; not reliable: fewer than 100 repeat customers (1)." in on
    assert 'class="censored projected"' not in on


def test_without_a_fit_the_switch_says_predictions_are_not_fitted(client, ltv_home):
    publish(ltv_home, fitted=False)
    off = client.get("/report").text
    assert 'aria-describedby="projected-hint"' in off
    assert 'id="projected-hint">predictions are not fitted yet<' in off
    on = client.get("/report?projected=1").text
    assert "Predictions are not fitted yet: no projected cells to show." in on
    assert 'class="censored projected"' not in on


def test_gross_has_no_projection_and_says_so(client, ltv_home):
    publish(ltv_home, fitted=True)
    gross = client.get("/report?basis=gross&projected=1").text
    assert "Projections are of net revenue: choose Net to see them." in gross
    assert 'class="censored projected"' not in gross
