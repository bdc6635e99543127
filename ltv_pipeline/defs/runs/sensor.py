"""Keeps the run queue moving while `make run` is up: every 30 s, runs left unfinished by an
`ltv` process that was killed are marked failed (see lib/run_owners.py).

Without it, one `ltv import` killed mid-run holds the only run slot (max_concurrent_runs: 1) for
ever, and every dropped file and webhook day waits QUEUED behind it. A sensor ships with the
definitions, so homes whose dagster.yaml was written earlier get it too.
"""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.lib.run_owners import fail_orphaned_runs


@sensor(
    name="orphaned_runs_sensor",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Marks failed the runs of `ltv` commands whose process is gone (killed).",
)
def orphaned_runs_sensor(context: SensorEvaluationContext, ltv_settings: LtvSettings) -> SkipReason:
    notices = fail_orphaned_runs(context.instance, ltv_settings.settings.run_owners_dir)
    for notice in notices:
        context.log.warning(f"{notice}; marked it failed")
    return SkipReason("; ".join(notices) or "no orphaned runs")
