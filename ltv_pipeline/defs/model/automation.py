"""When the model and marts rebuild: as soon as any raw asset (any file or webhook day)
changes, or the model's definition does (its code version names the LTV_CUSTOMER_KEY rule), and
never while an upstream run is still going.

This is Dagster's `eager()` with three changes: it does not wait until no upstream partition is
missing (raw assets have partitions that are never materialized on purpose: a day without
webhooks, a file that failed), a changed code version counts as a reason to rebuild, and an
upstream partition whose blocking check failed is no reason to rebuild: the model leaves that
partition out (contracts/left_out.py), so a rebuild for it would change nothing. Its passing
re-materialization is a reason, like any update.

Dagster's implicit default automation sensor starts stopped, so an explicit sensor
that starts running is declared here, and `dagster dev` / `ltv run` pick it up.
"""

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

# Dagster's any_deps_updated() is any dep newly updated or requested on this tick (so the marts
# go in the same run as the model); here a newly updated dep counts only without a failed
# blocking check. Not "check passed": the check's result is stored just after the
# materialization, and a tick between the two must not lose the update.
UPDATED_WITHOUT_A_FAILED_BLOCKING_CHECK = (
    AutomationCondition.newly_updated()
    & ~AutomationCondition.any_checks_match(AutomationCondition.check_failed(), blocking_only=True)
) | AutomationCondition.will_be_requested()
REBUILD_WHEN_UPSTREAM_CHANGES = (
    (
        AutomationCondition.newly_missing()
        | AutomationCondition.any_deps_match(UPDATED_WITHOUT_A_FAILED_BLOCKING_CHECK).with_label(
            "any_deps_updated, no blocking check failed"
        )
        | AutomationCondition.code_version_changed()
    ).since_last_handled()
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
).with_label("eager, or its definition changed")
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
