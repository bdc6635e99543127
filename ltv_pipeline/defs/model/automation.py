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

Why a second latch for raw input that arrives around a run: `since_last_handled()` counts this
asset's own update or request as handling every input, and a tick that sees both cannot tell
which came first (Dagster's boolean operators carry no timestamps). So a file imported while the
model's run was finishing, or after the run had read the raw tables, was lost for good: the model
and marts stayed older than their inputs until the next delivery (the journey test caught it,
one run in many). Raw input seen while this asset is requested, running or just updated is held
until a later request: when in doubt, rebuild (an incremental run that finds nothing new costs
seconds). Only raw inputs count: a mart's model inputs are updated by the very run that updates
the mart.

Dagster's implicit default automation sensor starts stopped, so an explicit sensor
that starts running is declared here, and `dagster dev` / `ltv run` pick it up.
"""

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

MODEL_GROUP = "ltv_model"
MARTS_GROUP = "ltv_marts"

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
# Raw input seen while a run of this asset may already have read the raw tables, held until a
# later request (not the one it arrived around).
RAW_INPUT_AROUND_A_RUN = (
    AutomationCondition.any_deps_match(UPDATED_WITHOUT_A_FAILED_BLOCKING_CHECK).ignore(
        AssetSelection.groups(MODEL_GROUP, MARTS_GROUP)
    )
    & (
        AutomationCondition.in_progress()
        | AutomationCondition.newly_requested()
        | AutomationCondition.newly_updated()
    )
).with_label("raw input arrived while requested, running or just updated")
RAW_INPUT_AROUND_A_RUN_NOT_YET_RUN = RAW_INPUT_AROUND_A_RUN.since(
    AutomationCondition.newly_requested() & ~RAW_INPUT_AROUND_A_RUN
).with_label("raw input around a run, not yet handled by a later run")
# A dep requested on this tick takes this asset along, whatever its latch says (it may have
# been updated on this very tick, which since_last_handled() counts as handled).
DEP_REQUESTED_NOW = AutomationCondition.any_deps_match(
    AutomationCondition.will_be_requested()
).with_label("any dep requested now")
# Latches, each cleared by new input: a run of this asset failed; a request followed it.
FAILED_SINCE_NEW_INPUT = AutomationCondition.execution_failed().since(NEW_INPUT)
RETRIED_SINCE_NEW_INPUT = (AutomationCondition.newly_requested() & FAILED_SINCE_NEW_INPUT).since(
    NEW_INPUT
)
RETRY_FAILED_RUN = (AutomationCondition.execution_failed() & ~RETRIED_SINCE_NEW_INPUT).with_label(
    "latest run failed, not yet retried"
)
REBUILD_WHEN_UPSTREAM_CHANGES = (
    (
        NEW_INPUT.since_last_handled()
        | RAW_INPUT_AROUND_A_RUN_NOT_YET_RUN
        | DEP_REQUESTED_NOW
        | RETRY_FAILED_RUN
    )
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
).with_label("eager, or input around a run, or its definition changed, or its run failed")


def ltv_automation_sensor() -> AutomationConditionSensorDefinition:
    return AutomationConditionSensorDefinition(
        "ltv_model_and_marts_automation",
        target=AssetSelection.groups(MODEL_GROUP, MARTS_GROUP),
        default_status=DefaultSensorStatus.RUNNING,
        # Short, so that a newcomer running `ltv demo` sees numbers within two minutes.
        minimum_interval_seconds=10,
        description="Rebuilds the unified model and the LTV marts when raw data changes.",
    )
