"""When the model and marts rebuild: as soon as any raw asset (any file or webhook day)
changes, and never while an upstream run is still going.

`eager()` also waits until no upstream partition is missing; raw assets have partitions that
are never materialized on purpose (a day without webhooks, a file that failed), so that part
is dropped. Dagster's implicit default automation sensor starts stopped, so an explicit sensor
that starts running is declared here, and `dagster dev` / `ltv run` pick it up.
"""

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

REBUILD_WHEN_UPSTREAM_CHANGES = AutomationCondition.eager().without(
    ~AutomationCondition.any_deps_missing()
)
MODEL_GROUP = "ltv_model"
MARTS_GROUP = "ltv_marts"


def ltv_automation_sensor() -> AutomationConditionSensorDefinition:
    return AutomationConditionSensorDefinition(
        "ltv_model_and_marts_automation",
        target=AssetSelection.groups(MODEL_GROUP, MARTS_GROUP),
        default_status=DefaultSensorStatus.RUNNING,
        # Short, so that a newcomer running `ltv demo` sees numbers within two minutes.
        minimum_interval_seconds=10,
        description="Rebuilds the unified model and the LTV marts when raw data changes.",
    )
