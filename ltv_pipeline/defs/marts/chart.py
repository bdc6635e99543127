"""The cohort LTV curves as a PNG: what people look at instead of the table."""

from __future__ import annotations

import io

from ltv_pipeline.metrics.definitions import HORIZONS

DAY_HORIZONS = [(label, days) for label, days in HORIZONS if days is not None]
MAX_LINES = 24  # the latest cohorts; older ones make the chart unreadable


def cohort_curves_png(rows: list[dict[str, object]], title: str) -> bytes:
    """One line per cohort over days 0..365; censored horizons are simply not drawn.

    matplotlib is imported here, not at module level: it costs half a second that every `ltv`
    command would otherwise pay, and only a mart materialization draws.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 4.8), dpi=100)
    for row in rows[-MAX_LINES:]:
        points = [
            (days, float(row[f"ltv_{label}"]))  # type: ignore[arg-type]
            for label, days in DAY_HORIZONS
            if row.get(f"ltv_{label}") is not None
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, marker="o", label=f"{row['group_key']} (n={row['customers']})")
    axes.set_xlabel("days since first purchase")
    axes.set_ylabel("LTV per customer")
    axes.set_title(title)
    axes.set_xticks([days for _, days in DAY_HORIZONS])
    axes.grid(True, alpha=0.3)
    if axes.lines:
        axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
