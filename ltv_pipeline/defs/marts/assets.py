"""The LTV marts as Dagster assets, one per entry of MARTS, rebuilt whenever the model changes.

Each run also proves its checks (keys unique, net revenue reconciles with the transactions,
no cohort cell with more eligible customers than customers) and puts a markdown preview in the
metadata; the LTV curve marts add an SVG chart of the curves (the report page's drawing).
"""

import base64
from pathlib import Path

import duckdb
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ltv_pipeline.defs.marts.build import MARTS, Mart, build_mart, update_per_customer_mart
from ltv_pipeline.defs.marts.chart import ltv_curves_svg
from ltv_pipeline.defs.marts.checks import CURVE_MARTS, check_names, run_checks
from ltv_pipeline.defs.model.automation import MARTS_GROUP, REBUILD_WHEN_UPSTREAM_CHANGES
from ltv_pipeline.defs.model.large_tables import for_large_rebuilds
from ltv_pipeline.defs.publish.state import rebuilding
from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.lib.markdown import markdown_table
from ltv_pipeline.metrics.ltv_table import HORIZON_COLUMNS, ltv_table
from ltv_pipeline.metrics.time_between_purchases import median_days_sql
from ltv_pipeline.warehouse.connection import Warehouse

MODEL_DEPS = ["customers", "transactions", "subscriptions", "declined_charges"]
PREVIEW_ROWS = 20
CURVE_GROUPS = {
    "cohort_ltv": "SELECT *, cohort AS group_key, cohort AS group_name FROM cohort_ltv "
    "WHERE period = 'month' AND cohort_start = 'first_order'",
    "ltv_by_front_end_product": "SELECT *, product_id AS group_key, product_name AS group_name "
    "FROM ltv_by_front_end_product WHERE cohort_start = 'first_order'",
}


def _format(value: object) -> str:
    return "" if value is None else f"{value}"


def curve_metadata(
    conn: duckdb.DuckDBPyConnection, mart: Mart, charts: Path
) -> dict[str, MetadataValue]:
    """Net LTV table (all accounts) in markdown, and the curves as an SVG (file + inline)."""
    rows = ltv_table(conn, CURVE_GROUPS[mart.name], "net", None, pooled=mart.name != "cohort_ltv")
    label = "cohort" if mart.name == "cohort_ltv" else "front-end product"
    table = markdown_table(
        [label, "customers", *HORIZON_COLUMNS],
        [
            [r["group_key"] if label == "cohort" else r["group_name"], r["customers"]]
            + [_format(r[c]) for c in HORIZON_COLUMNS]
            for r in rows
        ],
    )
    svg = ltv_curves_svg(
        rows,
        "group_key" if label == "cohort" else "group_name",
        f"Net LTV per customer by {label} (empty cells are not drawn)",
    )
    charts.mkdir(parents=True, exist_ok=True)
    path = charts / f"{mart.name}.svg"
    path.write_text(svg, encoding="utf-8")
    image = base64.b64encode(svg.encode()).decode()
    return {
        "net_ltv_table": MetadataValue.md(table + "\n\nEmpty cells are right-censored."),
        "chart": MetadataValue.md(f"![{mart.name} curves](data:image/svg+xml;base64,{image})"),
        "chart_file": MetadataValue.path(str(path)),
    }


def median_gap_metadata(conn: duckdb.DuckDBPyConnection) -> dict[str, MetadataValue]:
    """Median days from order k to k+1, all accounts together, as the UI's table."""
    cursor = conn.execute(median_days_sql("SELECT * FROM time_between_purchases"))
    rows = cursor.fetchall()
    return {
        "median_days_between_purchases": MetadataValue.md(
            markdown_table(["from order", "customers", "median days to the next"], rows)
        )
    }


def _preview(conn: duckdb.DuckDBPyConnection, mart: Mart) -> MetadataValue:
    """The first rows in key order, horizons in day order (d0, d7, ..., all), not as text."""
    order = ", ".join(
        "horizon_days NULLS LAST" if column == "horizon" else column for column in mart.key
    )
    cursor = conn.execute(f"SELECT * FROM {mart.name} ORDER BY {order} LIMIT {PREVIEW_ROWS}")
    return MetadataValue.md(markdown_table([d[0] for d in cursor.description], cursor.fetchall()))


def per_customer_update(conn: duckdb.DuckDBPyConnection, mart: Mart) -> dict[str, object]:
    """Catch up with the model's changed customers, and say how."""
    for_large_rebuilds(conn)
    pending = update_per_customer_mart(conn, mart)
    if pending.everything:
        return {"update": MetadataValue.text("whole rebuild (the model was rebuilt whole)")}
    return {
        "update": MetadataValue.text("incremental"),
        "changed_customers": MetadataValue.int(pending.customers),
    }


def build_mart_asset(mart: Mart) -> AssetsDefinition:
    @asset(
        name=mart.name,
        deps=[*MODEL_DEPS, *mart.deps],
        group_name=MARTS_GROUP,
        kinds={"duckdb"},
        automation_condition=REBUILD_WHEN_UPSTREAM_CHANGES,
        description=mart.description + f" Key: {', '.join(mart.key)}; per account, summable.",
        check_specs=[AssetCheckSpec(name, asset=mart.name) for name in check_names(mart)],
    )
    def mart_asset(
        context: AssetExecutionContext, warehouse: Warehouse, ltv_settings: LtvSettings
    ) -> MaterializeResult:
        published_dir = ltv_settings.settings.published_dir
        with rebuilding(published_dir), warehouse.get_connection() as conn:
            metadata: dict[str, object] = {}
            if mart.per_customer:
                metadata.update(per_customer_update(conn, mart))
                rows = conn.execute(f"SELECT count(*) FROM {mart.name}").fetchall()[0][0]
            else:
                rows = build_mart(conn, mart)
            checks = run_checks(conn, mart)
            metadata["dagster/row_count"] = rows
            metadata["preview"] = _preview(conn, mart)
            if mart.name in CURVE_MARTS:
                metadata.update(curve_metadata(conn, mart, ltv_settings.settings.charts_dir))
            if mart.name == "time_between_purchases":
                metadata.update(median_gap_metadata(conn))
        return MaterializeResult(metadata=metadata, check_results=checks)

    return mart_asset


def build_mart_assets() -> list[AssetsDefinition]:
    return [build_mart_asset(mart) for mart in MARTS.values()]
