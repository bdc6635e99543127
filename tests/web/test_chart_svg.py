"""The page's SVG draws what ltv_core.chart_series decided: its lines, points, colours, names."""

from __future__ import annotations

import re

from ltv_core.chart_series import Series
from ltv_web.chart import curves_svg


def test_the_svg_draws_each_series_runs_points_and_legend_in_its_colour():
    series = [
        Series("2024-01", "#111111", (1.0, 2.0, None, 4.0)),
        Series("2024-02", "#222222", (None, None, None, None)),
    ]
    svg = curves_svg(series, ["Day 0", "Day 7", "Day 30", "All time"], "t")
    assert re.findall(r'<polyline[^>]*stroke="(#\w+)"', svg) == ["#111111"]  # one run only
    assert re.findall(r'<circle[^>]*fill="(#\w+)"', svg) == ["#111111"] * 3
    assert re.findall(r'<rect[^>]*fill="(#\w+)"/><text[^>]*>([^<]*)</text>', svg) == [
        ("#111111", "2024-01"),
        ("#222222", "2024-02"),
    ]
