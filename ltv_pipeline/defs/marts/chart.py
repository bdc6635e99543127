"""The cohort LTV curves as a PNG: what people look at instead of the table."""

from __future__ import annotations

import io
import math

from ltv_core.chart_series import METADATA_COHORTS, chart_series
from ltv_pipeline.metrics.definitions import HORIZONS

# x is days since the first purchase, so all time has no place on it.
DAY_HORIZONS = [(f"ltv_{label}", days) for label, days in HORIZONS if days is not None]


def cohort_curves_png(rows: list[dict[str, object]], title: str) -> bytes:
    """One line per cohort over days 0..365, as ltv_core.chart_series decides them; censored
    horizons are not drawn, and a cohort with nothing to draw is left out of the legend.

    matplotlib is imported here, not at module level: it costs half a second that every `ltv`
    command would otherwise pay, and only a mart materialization draws.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    columns = [column for column, _ in DAY_HORIZONS]
    days = [day for _, day in DAY_HORIZONS]
    figure, axes = plt.subplots(figsize=(10, 4.8), dpi=100)
    for series in chart_series(rows, columns, "group_key", METADATA_COHORTS, "customers"):
        if series.empty:
            continue
        # matplotlib breaks a line at NaN: the same runs as Series.runs(), markers on each point.
        values = [math.nan if value is None else value for value in series.values]
        axes.plot(days, values, color=series.colour, marker="o", label=series.name)
    axes.set_xlabel("days since first purchase")
    axes.set_ylabel("LTV per customer")
    axes.set_title(title)
    axes.set_xticks(days)
    axes.grid(True, alpha=0.3)
    if axes.lines:
        axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
