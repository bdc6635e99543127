"""The cohort LTV curves as an inline SVG drawn on the server: no script, no image request.

x: the standard horizons (day 0 .. all time), evenly spaced; y: LTV per customer. What is drawn
(cohorts, points, censored gaps, colours) is ltv_core.chart_series's decision; this only places it.
"""

from __future__ import annotations

from html import escape

from ltv_core.chart_series import Series

WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 16, 40


def _nice_top(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def curves_svg(series: list[Series], horizon_labels: list[str], title: str) -> str:
    """An SVG line chart, a label per horizon of the series' values; every series is in the
    legend, an empty one too, so the legend lists the rows the chart covers."""
    values = [v for one in series for _, v in one.points]
    top = _nice_top(max(values, default=0.0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    count = max(len(horizon_labels) - 1, 1)

    def x(i: int) -> float:
        return LEFT + plot_w * i / count

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in range(5):
        value = top * tick / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11">'
            f"${value:,.0f}</text>"
        )
    for i, label in enumerate(horizon_labels):
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="11">{escape(label)}</text>'
        )
    for n, one in enumerate(series):
        for run in one.runs():
            path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            parts.append(
                f'<polyline fill="none" stroke="{one.colour}" stroke-width="2" points="{path}">'
                f"<title>{escape(one.name)}</title></polyline>"
            )
        parts += [
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{one.colour}"/>'
            for i, v in one.points
        ]
        legend_y = TOP + 14 * n + 8
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 12}" y="{legend_y - 8}" width="10" height="10" '
            f'fill="{one.colour}"/><text x="{WIDTH - RIGHT + 28}" y="{legend_y + 1}" '
            f'font-size="11">{escape(one.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
