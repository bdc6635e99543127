"""The fits' weighting of distinct summaries is np.unique's, row for row and in its order (the
fits sum the rows in that order, so the CDNOW parameters stay the same to the last bit)."""

from __future__ import annotations

import numpy as np

from ltv_pipeline.metrics.predictive.distinct_rows import distinct_rows


def test_distinct_rows_are_np_uniques_rows_counts_and_order():
    rng = np.random.default_rng(16)
    x = rng.integers(0, 4, 5000).astype(float)
    t_x = np.where(x > 0, rng.integers(0, 30, 5000) / 7, 0.0)
    T = rng.integers(30, 40, 5000) / 7
    (ux, ut, uT), counts = distinct_rows(x, t_x, T)
    expected, expected_counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    assert len(counts) < 5000  # the data has ties, so the test means something
    assert np.array_equal(np.column_stack([ux, ut, uT]), expected)
    assert np.array_equal(counts, expected_counts) and counts.sum() == 5000


def test_no_rows():
    (x, m_x), counts = distinct_rows(np.array([]), np.array([]))
    assert len(x) == len(m_x) == len(counts) == 0
