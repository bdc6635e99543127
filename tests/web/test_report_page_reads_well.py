"""What a seller reads on the report page: formatted money and rates, human headers, a cohort
heatmap, the headline figures, definitions once, CSV downloads equal to `ltv report`'s."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient

from ltv_core.formatting import money, percent
from ltv_core.published_reports import variant_key, write_published
from ltv_core.settings import Settings, SettingsError
from ltv_pipeline.cli.report import print_report
from ltv_web.app import create_app
from tests.support import LOCAL_PAGES_URL
from tests.web.test_report_and_settings_pages import snapshot

HORIZONS = ["d0", "d7", "d30", "d60", "d90", "d180", "d365", "all"]
OVERVIEW_COLUMNS = [
    "customers",
    "net_revenue",
    "gross_revenue",
    *(f"ltv_{h}" for h in HORIZONS),
    *(f"eligible_{h}" for h in HORIZONS),
    "repeat_rate",
    "refund_rate",
    "active_subscribers",
    "mrr",
]
OVERVIEW_ROW = [
    3000,
    "249300.00",
    "260000.50",
    *["101.00", "110.00", "120.50", "130.00", "140.00", "150.00", "", "180.25"],
    *[3000, 2900, 2700, 2500, 2300, 1800, 12, 3000],
    "0.2304",
    "0.0412",
    318,
    "8729.00",
]


def demo_like_snapshot(with_overview: bool) -> dict:
    document = snapshot()
    reports = document["reports"]
    reports[variant_key("cohort-ltv", "net", "month")]["rows"] = [
        ["2024-01", 1200, "100.00", "150.00", "", "", "", "", "", ""],
        ["2024-02", 30, "50.00", "1234.5", "", "", "", "", "", ""],
        ["2024-03", 7, "0.00", "", "", "", "", "", "", ""],
    ]
    reports[variant_key("cohort-ltv", "net", "month")]["labels"] = [
        "as of 2024-03-31 (latest day in the data)",
        "account: all accounts",
        "basis: net",
    ]
    reports[variant_key("refunds", None, "month")] = {
        "report": "refunds",
        "columns": ["dimension", "group_key", "group_name", "gross_charged", "refund_rate_amount"],
        "rows": [
            ["cohort", "2024-01", "2024-01", "249300.00", "0.8259"],
            ["product", "55501", "Launch Course", "-12.00", "0.0000"],
            ["product", "55502", "=HYPERLINK(1)", "1.00", "0.5000"],
        ],
        "labels": ["as of 2024-03-31 (latest day in the data)", "account: all accounts"],
    }
    reports[variant_key("subscriptions", None, None)] = {
        "report": "subscriptions",
        "columns": ["active_subscribers", "mrr", "arpa", "churn_rate_30d"],
        "rows": [[318, "8729.00", "27.45", "0.0749"]],
        "labels": ["as of 2024-03-31 (latest day in the data)", "account: all accounts"],
    }
    reports.pop(variant_key("overview", None, None), None)
    if with_overview:
        reports[variant_key("overview", None, None)] = {
            "report": "overview",
            "columns": OVERVIEW_COLUMNS,
            "rows": [OVERVIEW_ROW],
            "labels": [],
        }
    return document


def app_client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url=LOCAL_PAGES_URL)


@pytest.fixture
def client(ltv_home) -> TestClient:
    return app_client(ltv_home)


def cells(html: str, table: str, column: str) -> list[str]:
    body = html[html.index(f'<table id="{table}"') :]
    body = body[: body.index("</table>")]
    return [
        re.sub(r"<[^>]+>", "", text).strip()
        for text in re.findall(rf'<td data-col="{column}"[^>]*>(.*?)</td>', body)
    ]


def test_money_and_rates_read_as_a_person_writes_them():
    assert money("249300.00", "USD") == "$249,300.00"
    assert money("-12", "USD") == "-$12.00"
    assert money("1234.5", "EUR") == "€1,234.50"
    assert money("1234.5", "CHF") == "CHF 1,234.50"
    assert percent("0.8259") == "82.6%"
    assert percent("0") == "0.0%"


def test_the_currency_setting_is_an_iso_code():
    assert Settings.from_env({"LTV_CURRENCY": "eur"}).currency == "EUR"
    assert Settings.from_env({}).currency == "USD"
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"LTV_CURRENCY": "dollars"})
    assert str(refused.value) == (
        "LTV_CURRENCY='dollars': expected a 3-letter ISO 4217 currency code such as USD, EUR or GBP"
    )


def test_tables_show_formatted_values_human_headers_and_groups_named_once(client, ltv_home):
    write_published(ltv_home.published_dir, demo_like_snapshot(with_overview=False))
    html = client.get("/report").text
    assert cells(html, "cohort-ltv", "ltv_d7") == ["$150.00", "$1,234.50", "—"]
    assert cells(html, "cohort-ltv", "customers") == ["1,200", "30", "7"]
    assert cells(html, "refunds", "gross_charged") == ["$249,300.00", "-$12.00", "$1.00"]
    assert cells(html, "refunds", "refund_rate_amount") == ["82.6%", "0.0%", "50.0%"]
    # A cohort's name is its key: written once; a product's name comes with its id.
    assert cells(html, "refunds", "group_key") == [
        "2024-01",
        "Launch Course 55501",
        "=HYPERLINK(1) 55502",
    ]
    assert 'data-col="group_name"' not in html and "2024-01 2024-01" not in html
    assert cells(html, "subscriptions", "mrr") == ["$8,729.00"]
    for name in (">MRR<", ">ARPA<", ">Churn rate (30 days)<", ">Refund rate (amount)<"):
        assert name in html, name
    assert ">Mrr<" not in html and ">Arpa<" not in html
    # Definitions once per page: at its foot, not under each table.
    assert html.count('id="def-ltv"') == 1 and html.count("Right-censored: in a cohort row") == 1
    assert html.count("<li>account: all accounts</li>") == 1
    assert 'id="as-of-day">2024-03-31<' in html


def test_the_page_writes_amounts_in_the_currency_of_the_setting(ltv_home):
    euro = ltv_home.model_copy(update={"currency": "EUR"})
    write_published(euro.published_dir, demo_like_snapshot(with_overview=False))
    html = app_client(euro).get("/report").text
    assert cells(html, "cohort-ltv", "ltv_d7") == ["€150.00", "€1,234.50", "—"]
    assert "amounts in EUR" in html and "Every amount is in EUR" in html


def test_the_cohort_table_is_a_heatmap_per_column(client, ltv_home):
    write_published(ltv_home.published_dir, demo_like_snapshot(with_overview=False))
    html = client.get("/report").text
    heat = re.findall(r'data-col="ltv_(d0|d7)"[^>]*data-heat="([\d.]+)" style="([^"]*)"', html)
    by_column: dict[str, list[tuple[float, str]]] = {}
    for column, value, style in heat:
        by_column.setdefault(column, []).append((float(value), style))
    # Each column on its own scale: its lowest value lightest, its highest darkest.
    assert [v for v, _ in by_column["d0"]][:3] == [1.0, 0.5, 0.0]
    assert [v for v, _ in by_column["d7"]][:2] == [0.0, 1.0]
    assert by_column["d0"][0][1] == "background:#084594;color:#fff"
    assert by_column["d0"][2][1] == "background:#eff6ff;color:#1b1b1b"
    # Censored cells carry no colour, so they read as empty.
    assert re.search(r'data-col="ltv_d30" data-value="" class="censored"[^>]*>—<', html)


def test_each_table_downloads_as_ltv_report_prints_it(client, ltv_home):
    document = demo_like_snapshot(with_overview=False)
    write_published(ltv_home.published_dir, document)
    html = client.get("/report").text
    for key, section_id in (
        (variant_key("cohort-ltv", "net", "month"), "cohort-ltv"),
        (variant_key("refunds", None, "month"), "refunds"),
    ):
        href = re.search(rf'id="{section_id}-csv" href="([^"]+)"', html).group(1)
        response = client.get(href.replace("&amp;", "&"))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        entry = document["reports"][key]
        printed = io.StringIO()
        print_report(printed, "csv", entry["columns"], entry["rows"], entry["labels"])
        assert response.text == printed.getvalue()
    refunds = client.get("/report.csv", params={"variant": "refunds/-/month"}).text
    assert "'=HYPERLINK(1)" in refunds and "249300.00,0.8259" in refunds
    missing = client.get("/report.csv", params={"variant": "nope/-/-"})
    assert missing.status_code == 404 and "'nope/-/-' is not a report table" in missing.text


def test_headline_figures_come_from_the_published_overview(client, ltv_home):
    write_published(ltv_home.published_dir, demo_like_snapshot(with_overview=True))
    html = client.get("/report").text
    figures = dict(
        re.findall(r'data-figure="(\w+)">.*?<span class="figure-value">([^<]*)</span>', html, re.S)
    )
    assert figures == {
        "customers": "3,000",
        "net_revenue": "$249,300.00",
        "ltv_d30": "$120.50",
        "ltv_d90": "$140.00",
        "ltv_d365": "—",
        "repeat_rate": "23.0%",
        "refund_rate": "4.1%",
        "active_subscribers": "318",
        "mrr": "$8,729.00",
    }
    assert "fewer than 30 customers are that old" in html
    # Each definition is one click away, and stated once.
    for anchor in ("def-customers", "def-ltv", "def-repeat-rate", "def-refund-rate", "def-mrr"):
        assert f'href="#{anchor}"' in html and html.count(f'id="{anchor}"') == 1
    # The pooled all-customers line is on the cohort curves, named with its size.
    assert "All customers (n=3,000)</text>" in html
    assert 'class="pooled"' in html


def test_without_an_overview_the_page_shows_no_figures_and_no_pooled_line(client, ltv_home):
    write_published(ltv_home.published_dir, demo_like_snapshot(with_overview=False))
    html = client.get("/report").text
    assert 'id="headline"' not in html and "All customers (n=" not in html
    assert '<table id="cohort-ltv"' in html


def test_every_cohort_is_reachable_on_the_chart(client, ltv_home):
    document = demo_like_snapshot(with_overview=False)
    key = variant_key("cohort-ltv", "net", "month")
    document["reports"][key]["rows"] = [
        [f"20{20 + n // 12}-{n % 12 + 1:02d}", n + 1, "10.00", "", "", "", "", "", "", ""]
        for n in range(20)
    ]
    write_published(ltv_home.published_dir, document)
    latest = client.get("/report").text
    legend = re.findall(r'<rect class="legend"[^>]*/><text[^>]*>([^<]*)</text>', latest)
    assert len(legend) == 12 and legend[-1] == "2021-08 (n=20)"
    link = re.search(r'id="cohort-ltv-show-all" href="([^"]+)"', latest).group(1)
    every = client.get(link.replace("&amp;", "&")).text
    legend = re.findall(r'<rect class="legend"[^>]*/><text[^>]*>([^<]*)</text>', every)
    assert len(legend) == 20 and legend[0] == "2020-01 (n=1)"
    colours = re.findall(r'<rect class="legend"[^>]*fill="(#\w+)"', every)
    assert len(set(colours)) == 20
    assert 'id="cohort-ltv-show-latest"' in every


def test_home_lands_on_step_one_until_data_arrives(client, ltv_home):
    assert client.get("/", follow_redirects=False).headers["location"] == "/settings"
    empty = client.get("/report").text
    assert "No report yet" in empty and 'href="/settings"' in empty and "ltv demo" in empty
    write_published(ltv_home.published_dir, demo_like_snapshot(with_overview=False))
    assert client.get("/", follow_redirects=False).headers["location"] == "/report"
