"""The CDNOW sample (tests/predictive/data/, with its attribution) as the papers summarise it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.marts.cases import order_row

CDNOW_SAMPLE = Path(__file__).parent / "data" / "CDNOW_sample.txt"
# The papers' calibration period: 39 weeks, 1997-01-01 to 1997-09-30.
CALIBRATION_END = dt.date(1997, 9, 30)


@dataclass(frozen=True)
class CdnowPurchase:
    customer: str
    day: dt.date
    cds: int
    dollars: float


def cdnow_purchases() -> list[CdnowPurchase]:
    purchases = []
    for line in CDNOW_SAMPLE.read_text().splitlines():
        customer, _, day, cds, dollars = line.split()
        purchases.append(
            CdnowPurchase(
                customer, dt.datetime.strptime(day, "%Y%m%d").date(), int(cds), float(dollars)
            )
        )
    return purchases


def cdnow_summaries(unit_days: float = 7.0) -> dict[str, np.ndarray]:
    """x, t_x, T, m_x per customer in the papers' weeks: purchases on one day are one
    occasion (their value summed), T runs from the first purchase to the calibration end day."""
    occasions: dict[str, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    for p in cdnow_purchases():
        if p.day <= CALIBRATION_END:
            occasions[p.customer][p.day] += p.dollars
    x, t_x, T, m_x = [], [], [], []
    for customer in sorted(occasions):
        days = sorted(occasions[customer])
        repeat = [occasions[customer][d] for d in days[1:]]
        x.append(len(repeat))
        t_x.append((days[-1] - days[0]).days / unit_days)
        T.append((CALIBRATION_END - days[0]).days / unit_days)
        m_x.append(sum(repeat) / len(repeat) if repeat else 0.0)
    return {k: np.array(v) for k, v in {"x": x, "t_x": t_x, "T": T, "m_x": m_x}.items()}


def cdnow_order_rows() -> list[dict]:
    """The sample as Orders export rows: one line per purchase (one product per CD count, so
    that an order's lines stay one line), customers as example.com-like emails."""
    return [
        order_row(
            1000 + i,
            p.day.strftime("%m/%d/%Y"),
            p.cds,
            p.dollars,
            f"Customer{p.customer}@CDNOW.example",
        )
        for i, p in enumerate(cdnow_purchases())
    ]
