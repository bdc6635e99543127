"""When the model and marts rebuild: as soon as any raw asset (any file or webhook day)
changes, or the model's definition does (its code version names the LTV_CUSTOMER_KEY rule), and
never while an upstream run is still going; and once more after a run of theirs failed.

This is Dagster's `eager()` with three changes: it does not wait until no upstream partition is
missing (raw assets have partitions that are never materialized on purpose: a day without
webhooks, a file that failed), a changed code version counts as a reason to rebuild, a failed
run is retried, and an upstream partition whose blocking check failed is no reason to rebuild:
the model leaves that partition out (contracts/left_out.py), so a rebuild for it would change
nothing. Its passing re-materialization is a reason, like any update.

Why the retry: `eager()` fires once per new input (`since_last_handled`: a request consumes it),
so a run that failed, or was killed with `make run` (the orphaned-runs sensor then marks it
failed), left the model and marts older than their inputs until the next delivery. Now the
latest run having failed (`execution_failed`) is a reason of its own, but only once per new
input: the retry's own failure is not retried again (a permanent failure, such as a bad
alias or a full disk, must not loop a run every tick); the next file or webhook day, a changed
model definition, or `ltv materialize` tries again. Once per restart was the other choice, but
nothing in the automation state marks a restart, and a new input is what can change the outcome.

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
NEW_INPUT = (
    AutomationCondition.newly_missing()
    | AutomationCondition.any_deps_match(UPDATED_WITHOUT_A_FAILED_BLOCKING_CHECK).with_label(
        "any_deps_updated, no blocking check failed"
    )
    | AutomationCondition.code_version_changed()
).with_label("new input or definition")
# Latches, each cleared by new input: a run of this asset failed; a request followed it.
FAILED_SINCE_NEW_INPUT = AutomationCondition.execution_failed().since(NEW_INPUT)
RETRIED_SINCE_NEW_INPUT = (AutomationCondition.newly_requested() & FAILED_SINCE_NEW_INPUT).since(
    NEW_INPUT
)
RETRY_FAILED_RUN = (AutomationCondition.execution_failed() & ~RETRIED_SINCE_NEW_INPUT).with_label(
    "latest run failed, not yet retried"
)
REBUILD_WHEN_UPSTREAM_CHANGES = (
    (NEW_INPUT.since_last_handled() | RETRY_FAILED_RUN)
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
).with_label("eager, or its definition changed, or its run failed")
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
