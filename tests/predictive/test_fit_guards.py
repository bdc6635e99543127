"""The failure modes of the public implementations are reported, never returned as numbers."""

import numpy as np
import pytest

from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from tests.predictive.cdnow import cdnow_summaries


def test_fewer_than_100_repeat_customers_is_unreliable_without_parameters():
    s = cdnow_summaries()
    repeaters = np.flatnonzero(s["x"] > 0)[:99]
    keep = np.concatenate([repeaters, np.flatnonzero(s["x"] == 0)])
    fit = bgnbd.fit(s["x"][keep], s["t_x"][keep], s["T"][keep])
    assert not fit.reliable
    assert fit.parameters is None and fit.log_likelihood is None
    assert "only 99 repeat customers" in fit.reason
    assert fit.as_dict()["reliable"] is False and "r" not in fit.as_dict()
    spend = gamma_gamma.fit(s["x"][keep], s["m_x"][keep])
    assert not spend.reliable and spend.parameters is None


def test_exactly_100_repeat_customers_is_enough():
    s = cdnow_summaries()
    keep = np.concatenate([np.flatnonzero(s["x"] > 0)[:100], np.flatnonzero(s["x"] == 0)])
    assert bgnbd.fit(s["x"][keep], s["t_x"][keep], s["T"][keep]).reliable


def test_a_likelihood_without_a_maximum_is_reported_as_not_converged():
    """Everyone buys every week and was seen on the last day: nobody ever drops out, so the
    drop-out probability runs to zero and the optimizer never stops."""
    x = np.random.default_rng(1).integers(1, 30, 300).astype(float)
    fit = bgnbd.fit(x, x, x)
    assert not fit.reliable and fit.parameters is None
    assert "did not converge" in fit.reason


def test_q_at_most_one_is_unreliable_the_mean_spend_being_undefined():
    """Spend drawn from the Gamma-Gamma model itself with q = 0.8."""
    rng = np.random.default_rng(7)
    x = rng.integers(1, 6, 2000)
    nu = rng.gamma(0.8, 1 / 10, 2000)
    m_x = np.array([rng.gamma(2.0, 1 / nu[i], x[i]).mean() for i in range(2000)])
    fit = gamma_gamma.fit(x, m_x)
    assert not fit.reliable and fit.parameters is None
    assert "<= 1" in fit.reason and "undefined" in fit.reason
    with pytest.raises(ValueError, match="undefined"):
        gamma_gamma.expected_average_value((2.0, 0.8, 10.0), [1], [5.0])


def test_long_horizons_and_loyal_customers_do_not_overflow():
    """The hypergeometric term as written overflows for large x and t; the transformed one
    gives a finite expectation, below what a customer buying at their own rate would make."""
    params = (0.243, 4.414, 0.793, 2.426)
    x, t_x, T = np.array([200.0, 500.0]), np.array([38.0, 38.5]), np.array([39.0, 39.0])
    expected = bgnbd.conditional_expected_purchases(params, 5200, x, t_x, T)
    assert np.all(np.isfinite(expected)) and np.all(expected > 0)
    assert np.all(expected < x / T * 5200 * 1.1)


def test_bad_summaries_are_refused_naming_the_customer():
    with pytest.raises(ValueError, match=r"customer summary 1 .*0 <= t_x <= T"):
        bgnbd.fit([0, 2], [0.0, 10.0], [5.0, 4.0])
    with pytest.raises(ValueError, match=r"customer summary 0 .*every value finite"):
        bgnbd.fit([np.nan], [0.0], [1.0])
