"""What a cohort LTV chart shows: the latest cohorts, censored cells as gaps, a colour per place."""

from __future__ import annotations

import re
from decimal import Decimal

from ltv_core.chart_series import PALETTE, chart_series

HORIZONS = ["ltv_d0", "ltv_d7", "ltv_d30", "ltv_all"]


def row(cohort: str, *cells: object, customers: int = 3) -> dict[str, object]:
    return {"cohort": cohort, "customers": customers, **dict(zip(HORIZONS, cells, strict=True))}


def test_the_latest_cohorts_are_charted_oldest_first():
    rows = [row(f"2024-{m:02d}", 1, 2, 3, 4) for m in range(1, 6)]
    series = chart_series(rows, HORIZONS, "cohort", latest=3)
    assert [s.name for s in series] == ["2024-03", "2024-04", "2024-05"]
    assert chart_series(rows, HORIZONS, "cohort", latest=0) == []


def test_a_name_can_carry_the_cohort_size():
    series = chart_series(
        [row("2024-01", 1, 2, 3, 4, customers=17)], HORIZONS, "cohort", 5, "customers"
    )
    assert series[0].name == "2024-01 (n=17)"


def test_censored_cells_are_gaps_and_amounts_are_numbers():
    """Decimals (the warehouse), strings (the published snapshot) and None or "" (censored)."""
    [series] = chart_series(
        [row("2024-01", Decimal("9.50"), "12.25", None, "")], HORIZONS, "cohort", 1
    )
    assert series.values == (9.5, 12.25, None, None)
    assert series.points == [(0, 9.5), (1, 12.25)]
    assert not series.empty


def test_a_line_joins_only_neighbouring_known_horizons():
    """Day 30 censored but all time known: no line across the gap, all time is a marker alone."""
    [series] = chart_series([row("2024-01", 1, 2, None, 5)], HORIZONS, "cohort", 1)
    assert series.runs() == [[(0, 1.0), (1, 2.0)]]
    assert series.points == [(0, 1.0), (1, 2.0), (3, 5.0)]


def test_a_cohort_censored_everywhere_is_empty_but_kept_in_its_place():
    rows = [
        row("2024-01", 1, 2, 3, 4),
        row("2024-02", None, None, None, None),
        row("2024-03", 1, 1, 1, 1),
    ]
    series = chart_series(rows, HORIZONS, "cohort", 3)
    assert [s.empty for s in series] == [False, True, False]
    assert series[1].runs() == [] and series[1].points == []
    assert series[2].colour == PALETTE[2]


def test_each_place_has_its_own_colour_even_past_the_palette():
    few = [row(f"c{n:02d}", 1, 2, 3, 4) for n in range(3)]
    assert [s.colour for s in chart_series(few, HORIZONS, "cohort", 3)] == list(PALETTE[:3])
    rows = [row(f"c{n:02d}", 1, 2, 3, 4) for n in range(len(PALETTE) + 7)]
    colours = [s.colour for s in chart_series(rows, HORIZONS, "cohort", len(rows))]
    assert len(set(colours)) == len(rows)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", colour) for colour in colours)


def test_a_missing_horizon_column_is_censored():
    """A table without a horizon (e.g. an older snapshot) charts nothing there, never zero."""
    [series] = chart_series([{"cohort": "2024-01", "ltv_d0": 4}], HORIZONS, "cohort", 1)
    assert series.values == (4.0, None, None, None)
