"""The cohort LTV curves as an inline SVG drawn on the server: no script, no image request.

x: the standard horizons (day 0 .. all time), evenly spaced; y: LTV per customer. A cohort's line
stops where its cells are right-censored, so no curve is averaged over a shorter window.
"""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 16, 40
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#393b79",
    "#637939",
)


def _number(cell: object) -> float | None:
    if cell is None or cell == "":
        return None
    try:
        return float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _nice_top(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _runs(points: list[float | None]) -> list[list[tuple[int, float]]]:
    """Stretches of consecutive known values, as (horizon index, value)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, value in enumerate(points):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((i, value))
    return [run for run in runs if len(run) > 1]


def curves_svg(
    series: list[tuple[str, list[float | None]]], horizon_labels: list[str], title: str
) -> str:
    """An SVG line chart; `series` is (name, one value or None per horizon)."""
    values = [v for _, points in series for v in points if v is not None]
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
    for n, (name, points) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        coords = [(x(i), y(v)) for i, v in enumerate(points) if v is not None]
        # A line joins only neighbouring horizons: across a censored gap there is no line.
        for run in _runs(points):
            path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}">'
                f"<title>{escape(name)}</title></polyline>"
            )
        parts += [
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{color}"/>' for cx, cy in coords
        ]
        legend_y = TOP + 14 * n + 8
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 12}" y="{legend_y - 8}" width="10" height="10" '
            f'fill="{color}"/><text x="{WIDTH - RIGHT + 28}" y="{legend_y + 1}" '
            f'font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def series_from_rows(
    columns: list[str], rows: list[list], key_column: str, horizon_columns: list[str], limit: int
) -> list[tuple[str, list[float | None]]]:
    """The last `limit` rows (the most recent cohorts) as chart series."""
    key_at = columns.index(key_column)
    at = [columns.index(c) for c in horizon_columns]
    return [(str(row[key_at]), [_number(row[i]) for i in at]) for row in rows[-limit:]]
