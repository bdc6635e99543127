"""`published_reports`: after the marts rebuild, write what the report page shows.

It reads the warehouse inside a pipeline run (the one writer), so the web page never has to open
the warehouse and can never hold its lock while the pipeline writes.
"""

from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, asset

from ltv_core.published_reports import UP_TO_DATE, enter_state, published_path
from ltv_pipeline.defs.marts.build import MARTS
from ltv_pipeline.defs.model.assets import raw_asset_keys
from ltv_pipeline.defs.model.automation import MARTS_GROUP, REBUILD_WHEN_UPSTREAM_CHANGES
from ltv_pipeline.defs.publish.state import newest_input_included, rebuilding
from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.reports.publish import publish_reports
from ltv_pipeline.warehouse.connection import Warehouse


def build_publish_asset() -> AssetsDefinition:
    @asset(
        name="published_reports",
        deps=list(MARTS),
        group_name=MARTS_GROUP,
        kinds={"json"},
        automation_condition=REBUILD_WHEN_UPSTREAM_CHANGES,
        description="Every report of the report page (net/gross, month/week) as one JSON file "
        "in LTV_HOME/published/, replaced atomically after the marts change.",
    )
    def published_reports(
        context: AssetExecutionContext, warehouse: Warehouse, ltv_settings: LtvSettings
    ) -> MaterializeResult:
        published_dir = ltv_settings.settings.published_dir
        with rebuilding(published_dir), warehouse.get_connection() as conn:
            payload = publish_reports(conn, published_dir)
        inputs_as_of = newest_input_included(context.instance, raw_asset_keys())
        enter_state(published_dir, UP_TO_DATE, inputs_as_of=inputs_as_of)
        if payload["status"] != "ready":
            context.log.warning(f"reports not ready: {payload['reason']}")
        return MaterializeResult(
            metadata={
                "status": payload["status"],
                "variants": len(payload["reports"]),
                "accounts": ", ".join(payload.get("accounts", [])) or "none",
                "left_out": len(payload["left_out"]),
                "path": str(published_path(published_dir)),
                "inputs_as_of": inputs_as_of or "none",
            }
        )

    return published_reports
