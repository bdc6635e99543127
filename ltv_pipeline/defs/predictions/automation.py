"""When the predictions refresh: at most once a day, never per delivery.

A fit reads every customer of every account, so it is not run by the model-and-marts
automation (which rebuilds after each file or webhook day, defs/model/automation.py); these
assets are in a group of their own, which that sensor does not target, with a sensor of their
own. Each day after REFRESH_CRON (in LTV_TIMEZONE, the timezone of the data's days) they refresh
once the model and marts they read have been updated since, so a day without new data does not
refit the same data; and once when they were never built (a new home), as soon as what they
read exists. Never while what they read, or they themselves, are being built.
"""

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

PREDICTIONS_GROUP = "ltv_predictions"
REFRESH_CRON = "0 4 * * *"
SENSOR_NAME = "ltv_predictions_daily"


def refresh_daily(timezone: str) -> AutomationCondition:
    return (
        (AutomationCondition.on_cron(REFRESH_CRON, timezone) | AutomationCondition.on_missing())
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label(f"daily after {REFRESH_CRON} ({timezone}) once inputs updated, or never built")


def predictions_sensor() -> AutomationConditionSensorDefinition:
    return AutomationConditionSensorDefinition(
        SENSOR_NAME,
        target=AssetSelection.groups(PREDICTIONS_GROUP),
        default_status=DefaultSensorStatus.RUNNING,
        # A daily condition needs no fast ticks.
        minimum_interval_seconds=60,
        description="Refits the predictive LTV models and their predictions at most daily.",
    )
