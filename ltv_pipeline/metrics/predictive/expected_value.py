"""Expected value over the next N time units: BG/NBD's expected purchases times Gamma-Gamma's
expected value of each. Undiscounted, as the report shows money (not a discounted CLV)."""

from __future__ import annotations

import numpy as np

from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma


def expected_value(bgnbd_params, gamma_gamma_params, t, x, t_x, T, m_x) -> np.ndarray:
    purchases = bgnbd.conditional_expected_purchases(bgnbd_params, t, x, t_x, T)
    return purchases * gamma_gamma.expected_average_value(gamma_gamma_params, x, m_x)
