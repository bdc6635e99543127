"""The LTV curves of a mart as an SVG for the Dagster UI: the same drawing as the report page
(ltv_core/curves_svg.py), days to scale and "all time" apart, so the two never disagree."""

from __future__ import annotations

from ltv_core.chart_series import METADATA_COHORTS, chart_series
from ltv_core.curves_svg import HORIZON_DAYS, curves_svg


def ltv_curves_svg(rows: list[dict[str, object]], name_column: str, title: str) -> str:
    """One line per group (the latest METADATA_COHORTS), censored cells not drawn."""
    columns = list(HORIZON_DAYS)
    series = chart_series(rows, columns, name_column, METADATA_COHORTS, "customers")
    return curves_svg(series, [HORIZON_DAYS[c] for c in columns], title)
