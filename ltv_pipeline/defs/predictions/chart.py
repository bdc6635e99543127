"""A fit's calibration/holdout plot for the Dagster UI, drawn by the report page's chart code
(ltv_core/curves_svg.py) so the project has one way to draw a curve: weeks on a day axis, the
actual cumulative repeat purchases solid, the model's dashed."""

from __future__ import annotations

import base64

from dagster import MetadataValue

from ltv_core.chart_series import PALETTE, Series
from ltv_core.curves_svg import curves_svg
from ltv_pipeline.metrics.predictive.tracking import Tracking

TICKS = 6


def tracking_svg(account: str, track: Tracking) -> str:
    days = track.week_end_days
    series = [Series("actual", PALETTE[0], tuple(track.actual))]
    model = None
    if track.predicted is not None:
        model = Series("model (fit to the split)", PALETTE[1], tuple(track.predicted))
    last = days[-1]
    step = max(7, -(-last // TICKS // 7) * 7)
    return curves_svg(
        series,
        list(days),
        f"{account}: cumulative repeat purchase days, fit up to {track.split} "
        f"(day {(track.split - track.start).days}), holdout after",
        pooled=model,
        last_day=last,
        day_ticks=list(range(0, last + 1, step)),
        x_label=f"Days since {track.start} (one point per week)",
        y_tick=lambda v: f"{v:,.0f}",
    )


def tracking_metadata(account: str, track: Tracking) -> dict[str, MetadataValue]:
    image = base64.b64encode(tracking_svg(account, track).encode()).decode()
    holdout = track.prediction["holdout"] or {}
    return {
        f"{account}/holdout_plot": MetadataValue.md(
            f"![{account} calibration and holdout](data:image/svg+xml;base64,{image})"
        ),
        f"{account}/holdout": MetadataValue.json(
            {
                "calibration_end": track.split.isoformat(),
                "holdout_end": holdout.get("end"),
                "predicted_repeat_purchases": holdout.get("predicted_repeat_purchases"),
                "actual_repeat_purchases": holdout.get("actual_repeat_purchases"),
                "bgnbd": track.prediction["bgnbd"],
            }
        ),
    }
