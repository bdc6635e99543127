"""Customers who share a summary share a likelihood term: a fit sums each distinct row once,
weighted by how many customers have it (a million customers are a few hundred thousand rows,
and every evaluation of the likelihood is that much cheaper)."""

from __future__ import annotations

import numpy as np


def distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of `columns` (float arrays of one length) in lexicographic order, as
    columns, and how many times each occurs: what np.unique(axis=0, return_counts=True) gives,
    in the same order, at a fraction of its time (it sorts the rows as opaque byte strings, a
    second and a half for a million rows; one lexsort of the columns takes a fifth of that)."""
    order = np.lexsort(columns[::-1])
    ordered = [np.asarray(c)[order] for c in columns]
    if not len(order):
        return ordered, np.zeros(0, dtype=np.int64)
    new = np.zeros(len(order), dtype=bool)
    new[0] = True
    for column in ordered:
        new[1:] |= column[1:] != column[:-1]
    firsts = np.flatnonzero(new)
    counts = np.diff(np.append(firsts, len(order)))
    return [c[firsts] for c in ordered], counts
