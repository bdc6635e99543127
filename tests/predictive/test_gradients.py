"""The fits' analytic gradients are the log-likelihoods' own derivatives: central differences
on the CDNOW summaries agree, at the papers' parameters and far from them (a wrong gradient
would send the optimizer elsewhere, or leave it where it started)."""

from __future__ import annotations

import numpy as np
import pytest

from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from tests.predictive.cdnow import cdnow_summaries


def central_differences(log_likelihood, params) -> np.ndarray:
    steps = 1e-6 * np.asarray(params)
    return np.array(
        [
            (log_likelihood(params + step) - log_likelihood(params - step)) / (2 * step[i])
            for i, step in enumerate(np.diag(steps))
        ]
    )


@pytest.mark.parametrize(
    "params", [(0.243, 4.414, 0.793, 2.426), (1.5, 10.0, 0.5, 0.7), (0.1, 1.0, 3.0, 8.0)]
)
def test_bgnbd_gradient(params):
    s = cdnow_summaries()
    x, t_x, T = s["x"], s["t_x"], s["T"]
    weights = np.arange(len(x)) % 3 + 1.0  # as the fit weighs distinct rows
    analytic = bgnbd.log_likelihood_gradient(params, x, t_x, T, weights)
    numeric = central_differences(
        lambda p: bgnbd.log_likelihood(p, x, t_x, T, weights), np.array(params)
    )
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("params", [(6.25, 3.74, 15.44), (1.0, 2.0, 40.0)])
def test_gamma_gamma_gradient(params):
    s = cdnow_summaries()
    repeat = s["x"] > 0
    x, m_x = s["x"][repeat], s["m_x"][repeat]
    weights = np.arange(len(x)) % 3 + 1.0
    analytic = gamma_gamma.log_likelihood_gradient(params, x, m_x, weights)
    numeric = central_differences(
        lambda p: gamma_gamma.log_likelihood(p, x, m_x, weights), np.array(params)
    )
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-4)
