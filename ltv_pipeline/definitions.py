"""The single entry point Dagster loads (see workspace.yaml)."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from ltv_core.home_layout import keep_files_private
from ltv_core.settings import get_settings
from ltv_pipeline.defs.marts.assets import build_mart_assets
from ltv_pipeline.defs.model.assets import build_model_assets
from ltv_pipeline.defs.model.automation import ltv_automation_sensor
from ltv_pipeline.defs.predictions.assets import build_prediction_assets
from ltv_pipeline.defs.predictions.automation import predictions_sensor
from ltv_pipeline.defs.publish.assets import build_publish_asset
from ltv_pipeline.defs.publish.state import rebuild_failure_sensor
from ltv_pipeline.defs.raw_files.assets import build_raw_file_assets
from ltv_pipeline.defs.raw_files.inbox_sensor import inbox_sensor
from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.defs.runs.sensor import orphaned_runs_sensor
from ltv_pipeline.defs.webhooks.assets import build_webhook_events_asset
from ltv_pipeline.defs.webhooks.sensor import webhook_sensor
from ltv_pipeline.warehouse.connection import Warehouse


def build_definitions() -> Definitions:
    keep_files_private()  # first, in Dagster's code location too: LTV_HOME holds customers' data
    settings = get_settings()
    settings.ensure_layout()
    return Definitions(
        assets=[
            *build_raw_file_assets(),
            build_webhook_events_asset(settings),
            *build_model_assets(settings.customer_key_rule),
            *build_mart_assets(),
            build_publish_asset(),
            *build_prediction_assets(settings.timezone),
        ],
        sensors=[
            inbox_sensor,
            webhook_sensor,
            ltv_automation_sensor(),
            predictions_sensor(),
            orphaned_runs_sensor,
            rebuild_failure_sensor,
        ],
        resources={
            "warehouse": Warehouse.of(settings),
            "ltv_settings": LtvSettings.from_settings(settings),
        },
        # Every step in the run's own process, one after the other. The multiprocess default
        # starts a process per step, and each loads these definitions again (2-7 s each, most
        # of a marts run's time); steps gain nothing from processes of their own, since the
        # warehouse has one writer at a time. A failed step still fails its run.
        executor=in_process_executor,
    )


defs = build_definitions()
