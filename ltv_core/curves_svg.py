"""The cohort LTV curves as an inline SVG drawn on the server: no script, no image request.

x: days since the first purchase, to scale (0..365), so a slope is revenue per day; "all time" is
a separate band to the right, never a point on the day axis (it has no day). y: LTV per customer,
with round ticks. What is drawn (cohorts, points, censored gaps, colours) is
ltv_core.chart_series's decision; this only places it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from ltv_core.chart_series import Series
from ltv_core.formatting import money

# Each horizon column's day; None: all time, drawn apart.
HORIZON_DAYS: dict[str, int | None] = {
    "ltv_d0": 0,
    "ltv_d7": 7,
    "ltv_d30": 30,
    "ltv_d60": 60,
    "ltv_d90": 90,
    "ltv_d180": 180,
    "ltv_d365": 365,
    "ltv_all": None,
}
DAY_TICKS = (0, 30, 60, 90, 180, 365)  # day 7 is too close to 0 for its own label
LAST_DAY = 365
POOLED_COLOUR = "#111111"
PROJECTED_DASH = "4 4"  # projected segments: shorter dashes than the pooled line's "6 3"
WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 190, 16, 48
ALL_TIME_BAND = 56  # the "all time" band's width, right of the day axis
BAND_GAP = 18
LEGEND_LINE = 15
NICE_STEPS = (1, 2, 2.5, 5, 10)
TARGET_TICKS = 5


def nice_ticks(top_value: float) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 x 10^n) up to at or above `top_value`, about five."""
    if top_value <= 0:
        return [0.0, 1.0]
    raw_step = top_value / TARGET_TICKS
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(s * magnitude for s in NICE_STEPS if s * magnitude >= raw_step)
    count = math.ceil(top_value / step - 1e-9)
    return [step * i for i in range(count + 1)]


def _tick_label(value: float, currency: str) -> str:
    text = money(value, currency)
    return text[:-3] if text.endswith(".00") else text


def curves_svg(
    series: list[Series],
    days: list[int | None],
    title: str,
    currency: str = "USD",
    pooled: Series | None = None,
    *,
    last_day: int = LAST_DAY,
    day_ticks: Sequence[int] = DAY_TICKS,
    x_label: str = "Days since first purchase",
    y_tick: Callable[[float], str] | None = None,
) -> str:
    """An SVG line chart of each series' value per horizon (`days`: the horizons' days, None for
    all time). Every series is in the legend, an empty one too, so the legend lists the rows the
    chart covers; the pooled all-customers line, when given, is drawn last, thick and dashed.
    A series' projected values (where its observed ones are censored) are drawn apart: dashed
    segments from its last observed point, hollow markers, and a legend line saying so.

    The keywords let another day-axis chart share this drawing (the predictive fit's weekly
    tracking plot): a longer axis, its ticks and label, and y ticks that are not money."""
    drawn = series + ([pooled] if pooled is not None else [])
    values = [v for one in drawn for _, v in [*one.points, *one.projected_points]]
    any_projected = any(one.projected_points for one in series)
    ticks = nice_ticks(max(values, default=0.0))
    top = ticks[-1]
    height = max(HEIGHT, TOP + LEGEND_LINE * (len(drawn) + any_projected) + 12)
    plot_h = height - TOP - BOTTOM
    day_w = WIDTH - LEFT - RIGHT - ALL_TIME_BAND - BAND_GAP
    band_x = LEFT + day_w + BAND_GAP + ALL_TIME_BAND / 2

    def x(i: int) -> float:
        day = days[i]
        return band_x if day is None else LEFT + day_w * day / last_day

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    axis_right = LEFT + day_w

    def label(value: float) -> str:
        return _tick_label(value, currency) if y_tick is None else y_tick(value)

    for value in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{axis_right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
            f'class="y-tick">{escape(label(value))}</text>'
        )
    for day in day_ticks:
        tick_x = LEFT + day_w * day / last_day
        parts.append(
            f'<line x1="{tick_x:.1f}" x2="{tick_x:.1f}" y1="{TOP + plot_h}" '
            f'y2="{TOP + plot_h + 4}" stroke="#777"/>'
            f'<text x="{tick_x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" '
            f'font-size="11" class="x-tick" data-day="{day}">{day}</text>'
        )
    parts.append(
        f'<text x="{LEFT + day_w / 2:.1f}" y="{TOP + plot_h + 34}" text-anchor="middle" '
        f'font-size="11">{escape(x_label)}</text>'
    )
    if None in days:
        band_left = LEFT + day_w + BAND_GAP
        parts.append(
            f'<rect x="{band_left}" y="{TOP}" width="{ALL_TIME_BAND}" height="{plot_h}" '
            'fill="#f4f6f8" class="all-time-band"/>'
            f'<text x="{band_x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" '
            'font-size="11">All time</text>'
        )
    for n, one in enumerate(drawn):
        is_pooled = one is pooled
        width = 3 if is_pooled else 2
        dash = ' stroke-dasharray="6 3"' if is_pooled else ""
        on_axis = tuple(v if d is not None else None for v, d in zip(one.values, days, strict=True))
        on_days = Series(one.name, one.colour, on_axis)  # all time joins no line
        circle_class = ' class="pooled"' if is_pooled else ""
        for run in on_days.runs():
            path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            parts.append(
                f'<polyline fill="none" stroke="{one.colour}" stroke-width="{width}"{dash} '
                f'points="{path}"><title>{escape(one.name)}</title></polyline>'
            )
        parts += [
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{one.colour}"'
            f'{circle_class} data-day="{"all" if days[i] is None else days[i]}"/>'
            for i, v in one.points
        ]
        parts += _projected_parts(one, days, x, y)
        legend_y = TOP + LEGEND_LINE * n + 8
        parts.append(
            f'<rect class="legend" x="{WIDTH - RIGHT + 12}" y="{legend_y - 8}" '
            f'width="10" height="10" '
            f'fill="{one.colour}"/><text x="{WIDTH - RIGHT + 28}" y="{legend_y + 1}" '
            f'font-size="11">{escape(one.name)}</text>'
        )
    if any_projected:
        legend_y = TOP + LEGEND_LINE * len(drawn) + 8
        left = WIDTH - RIGHT + 12
        parts.append(
            f'<line class="legend projected" x1="{left}" x2="{left + 10}" y1="{legend_y - 3}" '
            f'y2="{legend_y - 3}" stroke="#555" stroke-width="2" '
            f'stroke-dasharray="{PROJECTED_DASH}"/><text x="{left + 16}" y="{legend_y + 1}" '
            'font-size="11" font-style="italic">projected (not observed)</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _projected_parts(
    one: Series,
    days: list[int | None],
    x: Callable[[int], float],
    y: Callable[[float], float],
) -> list[str]:
    """The dashed segments and hollow markers of one series' projected values (the day axis
    only: all time is never censored)."""
    parts = []
    for (i, a), (j, b) in one.projected_segments():
        if days[i] is None or days[j] is None:
            continue
        parts.append(
            f'<line class="projected" x1="{x(i):.1f}" y1="{y(a):.1f}" x2="{x(j):.1f}" '
            f'y2="{y(b):.1f}" stroke="{one.colour}" stroke-width="2" '
            f'stroke-dasharray="{PROJECTED_DASH}"><title>{escape(one.name)}, projected</title>'
            "</line>"
        )
    parts += [
        f'<circle class="projected" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="#fff" '
        f'stroke="{one.colour}" stroke-width="1.5" '
        f'data-day="{"all" if days[i] is None else days[i]}"/>'
        for i, v in one.projected_points
    ]
    return parts
