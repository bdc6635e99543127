"""What a cohort LTV chart shows, decided once for both drawings of it: the PNG in the marts'
Dagster metadata and the SVG on the report page. Which cohorts (the latest ones), which points
(a value per horizon, None where right-censored), which points a line joins (neighbouring known
horizons only, so no curve is averaged over a shorter window) and each series' colour.

The renderers only place what this module decides; neither chooses data or colours itself.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The latest cohorts a chart draws: older ones make it unreadable. The page shows fewer since its
# chart sits beside the table and its legend is narrower.
PAGE_COHORTS = 12
METADATA_COHORTS = 24
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


@dataclass(frozen=True)
class Series:
    """One cohort's curve: a value per horizon column (in the chart's order), None if censored."""

    name: str
    colour: str
    values: tuple[float | None, ...]
    # Projected values where the observed one is censored (None elsewhere); () when not asked.
    projected: tuple[float | None, ...] = ()

    @property
    def points(self) -> list[tuple[int, float]]:
        """The known values as (horizon index, value): each one gets a marker."""
        return [(i, value) for i, value in enumerate(self.values) if value is not None]

    @property
    def empty(self) -> bool:
        """Every horizon censored: nothing to draw, though the cohort may still be named."""
        return not self.points

    def runs(self) -> list[list[tuple[int, float]]]:
        """The stretches a line joins: two or more known values at neighbouring horizons.
        Across a censored horizon there is no line; a lone known value is a marker only."""
        runs: list[list[tuple[int, float]]] = [[]]
        for i, value in enumerate(self.values):
            if value is None:
                runs.append([])
            else:
                runs[-1].append((i, value))
        return [run for run in runs if len(run) > 1]

    @property
    def projected_points(self) -> list[tuple[int, float]]:
        """The projected values as (horizon index, value), drawn apart from the observed ones."""
        return [(i, value) for i, value in enumerate(self.projected) if value is not None]

    def projected_segments(self) -> list[tuple[tuple[int, float], tuple[int, float]]]:
        """Pairs of neighbouring horizons that a projected line joins: both ends known (observed
        or projected) and at least one end projected. An observed pair is never among them."""
        if not self.projected:
            return []
        known = [
            observed if observed is not None else projected
            for observed, projected in zip(self.values, self.projected, strict=True)
        ]
        return [
            ((i, known[i]), (i + 1, known[i + 1]))  # type: ignore[misc]
            for i in range(len(known) - 1)
            if known[i] is not None
            and known[i + 1] is not None
            and (self.values[i] is None or self.values[i + 1] is None)
        ]


def cell_value(cell: object) -> float | None:
    """A table cell as a number; None (censored) for a missing, empty or non-numeric cell, since
    the published snapshot writes censored cells as null and amounts as strings or numbers."""
    if cell is None or cell == "":
        return None
    try:
        return float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def colours(count: int) -> list[str]:
    """A colour per series: the palette when it is enough, else as many evenly spaced hues (so
    no two cohorts of a long chart share a colour)."""
    if count <= len(PALETTE):
        return list(PALETTE[:count])
    hexes = []
    for i in range(count):
        red, green, blue = colorsys.hls_to_rgb(i / count, 0.42, 0.7)
        hexes.append(f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}")
    return hexes


def chart_series(
    rows: Sequence[Mapping[str, object]],
    horizon_columns: Sequence[str],
    name_column: str,
    latest: int,
    count_column: str | None = None,
    projected_columns: Sequence[str | None] = (),
) -> list[Series]:
    """The latest `latest` rows (rows come oldest first) as series, coloured by their position.

    A series is named by `name_column`, followed by "(n=<count>)" when `count_column` is given.
    Empty series are kept, so a colour always belongs to the same position whatever is censored.
    `projected_columns` names, per horizon (None: none), the column holding its projection; a
    projection is kept only where the observed value is censored.
    """
    charted = rows[-latest:] if latest > 0 else []
    series = []
    palette = colours(len(charted))
    for position, row in enumerate(charted):
        name = str(row[name_column])
        if count_column is not None:
            name = f"{name} (n={row[count_column]})"
        values = tuple(cell_value(row.get(column)) for column in horizon_columns)
        projected = (
            tuple(
                None if column is None or value is not None else cell_value(row.get(column))
                for column, value in zip(projected_columns, values, strict=True)
            )
            if projected_columns
            else ()
        )
        series.append(Series(name, palette[position], values, projected))
    return series
