"""The page's SVG draws what ltv_core.chart_series decided: its lines, points, colours, names,
on a day axis to scale with all time apart, and round money ticks."""

from __future__ import annotations

import re

from ltv_core.chart_series import Series
from ltv_core.curves_svg import LEFT, curves_svg, nice_ticks

DAYS = [0, 7, 30, 60, 90, 180, 365, None]


def test_the_svg_draws_each_series_runs_points_and_legend_in_its_colour():
    series = [
        Series("2024-01", "#111111", (1.0, 2.0, None, 4.0)),
        Series("2024-02", "#222222", (None, None, None, None)),
    ]
    svg = curves_svg(series, [0, 7, 30, None], "t")
    assert re.findall(r'<polyline[^>]*stroke="(#\w+)"', svg) == ["#111111"]  # one run only
    assert re.findall(r'<circle[^>]*fill="(#\w+)"', svg) == ["#111111"] * 3
    assert re.findall(r'<rect[^>]*fill="(#\w+)"/><text[^>]*>([^<]*)</text>', svg) == [
        ("#111111", "2024-01"),
        ("#222222", "2024-02"),
    ]


def test_days_are_placed_to_scale_and_all_time_apart_from_the_axis():
    svg = curves_svg([Series("c", "#111111", (1, 2, 3, 4, 5, 6, 7, 8))], DAYS, "t")
    xs = {
        day: float(x) for x, day in re.findall(r'<circle cx="([\d.]+)"[^>]*data-day="(\w+)"', svg)
    }
    assert xs["0"] == LEFT
    per_day = (xs["365"] - xs["0"]) / 365
    for day in ("7", "30", "60", "90", "180"):
        assert abs(xs[day] - xs["0"] - int(day) * per_day) < 0.2, day
    assert xs["all"] > xs["365"] + 20  # its own band, not the next point of the axis
    # No line joins day 365 to all time.
    [line] = re.findall(r'<polyline[^>]*points="([^"]*)"', svg)
    assert len(line.split()) == 7


def test_money_ticks_are_round_and_in_the_currency():
    assert nice_ticks(328.67) == [0, 100, 200, 300, 400]
    assert nice_ticks(62) == [0, 20, 40, 60, 80]
    assert nice_ticks(0.0) == [0.0, 1.0]
    svg = curves_svg([Series("c", "#111111", (10.0, 188.0))], [0, 7], "t", "EUR")
    ticks = re.findall(r'class="y-tick">([^<]*)<', svg)
    assert ticks == ["€0", "€50", "€100", "€150", "€200"]


def test_the_pooled_line_is_drawn_and_named_last():
    pooled = Series("All customers (n=3,000)", "#000000", (1.0, 2.0, None))
    cohort = Series("c (n=5)", "#111111", (1.0, 1.5, 2.0))
    svg = curves_svg([cohort], [0, 7, None], "t", pooled=pooled)
    legend = re.findall(r'<rect class="legend"[^>]*/><text[^>]*>([^<]*)</text>', svg)
    assert legend == ["c (n=5)", "All customers (n=3,000)"]
    assert 'stroke-dasharray="6 3"' in svg and svg.count('class="pooled"') == 2
