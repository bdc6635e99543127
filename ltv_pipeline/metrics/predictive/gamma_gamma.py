"""Gamma-Gamma spend model (Fader, Hardie & Lee, "RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis", JMR 2005; Fader & Hardie, "The Gamma-Gamma Model of Monetary Value",
2013): a customer's purchases are Gamma(p, nu) around their own mean, with nu ~ Gamma(q, gamma)
across customers. It uses repeat customers only (x repeat purchases with a positive mean value
m_x), and assumes spend is independent of purchase frequency.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from ltv_pipeline.metrics.predictive.distinct_rows import distinct_rows
from ltv_pipeline.metrics.predictive.fit_outcome import FitOutcome, maximize, unreliable

PARAMETERS = ("p", "q", "gamma")


def log_likelihood_terms(params, x, m_x) -> np.ndarray:
    """log f(m_x | p, q, gamma, x) with
    f = G(px+q) / (G(px) G(q)) * gamma^q m_x^(px-1) x^(px) / (gamma + m_x x)^(px+q)."""
    p, q, gamma = params
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m_x)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m_x * x)
    )


def log_likelihood(params, x, m_x, weights=None) -> float:
    terms = log_likelihood_terms(params, x, m_x)
    return float(np.sum(terms if weights is None else terms * weights))


def log_likelihood_gradient(params, x, m_x, weights) -> np.ndarray:
    """d log f / d (p, q, gamma), summed with the weights (the optimizer's steps then need no
    numerical gradient):
      d/dp     = x (psi(px+q) - psi(px) + log(m_x) + log(x) - log(gamma + m_x x))
      d/dq     = psi(px+q) - psi(q) + log(gamma) - log(gamma + m_x x)
      d/dgamma = q/gamma - (px+q)/(gamma + m_x x)."""
    p, q, gamma = params
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    px = p * x
    log_total = np.log(gamma + m_x * x)
    shared = digamma(px + q)
    terms = (
        x * (shared - digamma(px) + np.log(m_x) + np.log(x) - log_total),
        shared - digamma(q) + np.log(gamma) - log_total,
        q / gamma - (px + q) / (gamma + m_x * x),
    )
    return np.array([np.sum(term * weights) for term in terms])


def fit(x, m_x) -> FitOutcome:
    """Over the customers with x > 0 and m_x > 0 (the others carry no spend information: a
    mean of zero or less is a refunded purchase, not a draw from a Gamma). A fit with q <= 1
    has no finite mean spend, so no expected value can be computed from it: unreliable."""
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    if not (np.isfinite(x).all() and np.isfinite(m_x).all()):
        i = int(np.argmax(~(np.isfinite(x) & np.isfinite(m_x))))
        raise ValueError(f"customer {i} (x={x[i]}, m_x={m_x[i]}): expected finite values")
    used = (x > 0) & (m_x > 0)
    x, m_x = x[used], m_x[used]
    customers = int(np.sum(used))
    if customers == 0:
        return unreliable(0, 0, "no repeat customers with a positive mean purchase value")
    (ux, um), counts = distinct_rows(x, m_x)

    def objective(params: np.ndarray) -> float:
        return log_likelihood(params, ux, um, counts)

    start = np.log([1.0, 2.0, float(np.mean(m_x))])

    def gradient(params: np.ndarray) -> np.ndarray:
        return log_likelihood_gradient(params, ux, um, counts)

    outcome = maximize(objective, PARAMETERS, start, customers, customers, gradient)
    if outcome.reliable and outcome.parameters["q"] <= 1:
        return unreliable(
            customers,
            customers,
            f"q = {outcome.parameters['q']:.3f} <= 1: the spend model's mean is undefined "
            "(a few very large purchases dominate); no expected value can be given",
        )
    return outcome


def expected_average_value(params, x, m_x) -> np.ndarray:
    """E[M | p, q, gamma, m_x, x] = p (gamma + m_x x) / (p x + q - 1): a weighted mean of the
    population's mean spend p gamma / (q - 1) and the customer's own m_x. A customer with no
    repeat purchase (x = 0) gets the population mean."""
    p, q, gamma = params
    if q <= 1:
        raise ValueError(f"q = {q} <= 1: the Gamma-Gamma mean spend is undefined")
    x = np.asarray(x, dtype=float)
    m_x = np.where(x > 0, np.asarray(m_x, dtype=float), 0.0)
    return p * (gamma + m_x * x) / (p * x + q - 1)
