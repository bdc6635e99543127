"""The parse plan is SQL text built from a header alone: checked here without a warehouse or a
file, on a header that spells its columns SamCart's other ways and has one column no format
knows."""

from __future__ import annotations

import duckdb
import pytest

from ltv_core.formats.detect import mapping_for
from ltv_core.formats.profiles import FormatCatalog
from ltv_pipeline.ingest.parse_plan import ParsePlan
from ltv_pipeline.lib.sql_parsing import date_expected

HEADER = ("Order #", "Date", "Amount", "Email", "Item", "Mystery")


@pytest.fixture
def plan(catalog: FormatCatalog) -> ParsePlan:
    mapping = mapping_for(catalog, "samcart-orders", list(HEADER))
    return ParsePlan(mapping, HEADER, catalog, "DMY")


def test_records_take_each_column_from_its_cell_and_keep_unknown_ones(plan: ParsePlan) -> None:
    sql = plan.records_sql("source")
    assert 'c0 AS "order_id", c1 AS "order_date", NULL AS "order_time"' in sql
    assert 'c2 AS "price"' in sql and 'c3 AS "customer_email"' in sql
    assert "json_object('Mystery', c5) END AS extra_columns" in sql
    # The spare cells start right after the header's six columns.
    assert "NULLIF(concat_ws(',', c6, c7, c8, c9), '') AS overflow_cells FROM source" in sql


def test_reasons_name_columns_as_the_file_spells_them(plan: ParsePlan) -> None:
    reasons = [(p.shown, p.reason) for p in plan.problems()]
    assert ("Order #", "'required value is missing'") in reasons
    assert ("Date", f"'expected {date_expected('DMY')}'") in reasons
    assert ("Amount", "'required value is missing'") in reasons
    assert ("Email", "'expected an email address containing @'") in reasons
    # A column the file lacks is named as SamCart usually spells it.
    assert ("Product ID", "'required value is missing: Product ID or Item'") in reasons
    assert reasons[-1] == ("(row)", "'the row has more cells than the 6 columns of the header'")
    sql = plan.reasons_sql()
    assert sql.startswith("list_filter([{'column': 'Order #', 'value': \"t_order_id\"")
    assert "DD/MM/YYYY" in sql


def test_landed_columns_are_the_cells_the_file_has_and_the_typed_values(plan: ParsePlan) -> None:
    columns = dict(plan.landed_columns())
    assert list(columns)[:5] == [
        "order_id",
        "order_date",
        "product_name",
        "price",
        "customer_email",
    ]
    assert "order_time" not in columns and "order_status" not in columns
    assert columns["extra_columns"] == "extra_columns"
    assert columns["typed_price"] == 'CAST("v_price" AS DECIMAL(18,2))'
    assert columns["typed_customer_email"] == 'NULLIF("v_customer_email", "t_customer_email")'
    assert list(columns.items())[-1] == ("accepted", "NOT is_blank AND NOT has_problem")


def test_the_plan_runs_and_its_reasons_match_what_failed(plan: ParsePlan) -> None:
    """The SQL is only text until run: over three records (one good, one with a date in the
    wrong order and no product, one blank) it accepts, rejects and skips them, for those
    reasons."""
    source = (
        "(SELECT * FROM (VALUES "
        "('A1', '31/01/2024', '$5.00', 'a@x.com', 'Course', NULL, NULL, NULL, NULL, NULL), "
        "('A2', '2024/31/01', '$5.00', 'b@x.com', NULL, NULL, NULL, NULL, NULL, NULL), "
        "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
        ") AS t(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9))"
    )
    conn = duckdb.connect()
    landed = conn.execute(
        f"SELECT order_id, accepted FROM ({plan.landing_sql(source)}) ORDER BY ALL"
    ).fetchall()
    assert landed == [("A1", True), ("A2", False), (None, False)]
    reasons = conn.execute(
        f"SELECT order_id, unnest({plan.reasons_sql()}) AS r "
        f"FROM ({plan.parse_sql(plan.records_sql(source))}) WHERE has_problem AND NOT is_blank"
    ).fetchall()
    assert [(order, r["column"], r["value"]) for order, r in reasons] == [
        ("A2", "Date", "2024/31/01"),
        ("A2", "Product ID", None),
    ]
    assert reasons[1][1]["reason"] == "required value is missing: Product ID or Item"
