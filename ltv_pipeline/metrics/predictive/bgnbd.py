"""BG/NBD (Fader, Hardie & Lee, "Counting Your Customers the Easy Way", Marketing Science 2005):
while alive, a customer buys at rate lambda ~ Gamma(r, alpha); after each purchase they drop out
with probability p ~ Beta(a, b).

A customer is summarised by x (repeat purchases), t_x (time from the first to the last
purchase) and T (time from the first purchase to the end of the calibration period), all in the
same unit. Every formula is the paper's, evaluated in log space: (alpha + T)^(r + x) overflows
a float for a loyal customer long before their likelihood does.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from ltv_pipeline.metrics.predictive.distinct_rows import distinct_rows
from ltv_pipeline.metrics.predictive.fit_outcome import FitOutcome, maximize, unreliable

PARAMETERS = ("r", "alpha", "a", "b")


def _alive_and_dropped_terms(params, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
    """The log of each customer's two likelihood paths, less the factor they share: still alive
    at T, or dropped out just after the last purchase (impossible, -inf, without a repeat)."""
    r, alpha, a, b = params
    still_alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    dropped = np.full_like(x, -np.inf)
    dropped[repeat] = (
        betaln(a + 1, b + x[repeat] - 1)
        - betaln(a, b)
        - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    return still_alive, dropped


def log_likelihood_terms(params, x, t_x, T) -> np.ndarray:
    """Each customer's log-likelihood, the paper's equation (6):
    L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))."""
    r, alpha = params[0], params[1]
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    still_alive, dropped = _alive_and_dropped_terms(params, x, t_x, T)
    return common + np.logaddexp(still_alive, dropped)


def log_likelihood(params, x, t_x, T, weights=None) -> float:
    terms = log_likelihood_terms(params, x, t_x, T)
    return float(np.sum(terms if weights is None else terms * weights))


def log_likelihood_gradient(params, x, t_x, T, weights) -> np.ndarray:
    """d log L / d (r, alpha, a, b), summed with the weights: the optimizer's steps then cost
    one evaluation instead of five (a numerical gradient), which is most of a million
    customers' fit. With w the share of the still-alive term in each customer's likelihood
    (1 when x = 0) and v = 1 - w, differentiating equation (6) term by term gives
      d/dr     = psi(r+x) - psi(r) + log(alpha) - w log(alpha+T) - v log(alpha+t_x)
      d/dalpha = r/alpha - (r+x) (w/(alpha+T) + v/(alpha+t_x))
      d/da     = psi(a+b) - psi(a+b+x) + v/a
      d/db     = psi(a+b) - psi(a+b+x) - psi(b) + w psi(b+x) + v psi(b+x-1)."""
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    still_alive, dropped = _alive_and_dropped_terms(params, x, t_x, T)
    v = np.exp(dropped - np.logaddexp(still_alive, dropped))
    w = 1 - v
    repeat = x > 0
    digamma_b_x_1 = np.zeros_like(x)
    digamma_b_x_1[repeat] = digamma(b + x[repeat] - 1)
    shared = digamma(a + b) - digamma(a + b + x)
    terms = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - w * np.log(alpha + T)
        - v * np.log(alpha + t_x),
        r / alpha - (r + x) * (w / (alpha + T) + v / (alpha + t_x)),
        shared + v / a,
        shared - digamma(b) + w * digamma(b + x) + v * digamma_b_x_1,
    )
    return np.array([np.sum(term * weights) for term in terms])


def fit(x, t_x, T) -> FitOutcome:
    """Maximum likelihood over the distinct (x, t_x, T) rows, weighted by how many customers
    share each: a million customers are a few hundred thousand rows, and the sum is the same."""
    rows = np.column_stack([np.asarray(v, dtype=float) for v in (x, t_x, T)])
    check_summaries(rows)
    customers = len(rows)
    repeat_customers = int(np.sum(rows[:, 0] > 0)) if customers else 0
    if customers == 0:
        return FitOutcome(None, None, 0, 0, False, "no customers")
    (ux, ut, uT), counts = distinct_rows(*rows.T)

    def objective(params: np.ndarray) -> float:
        return log_likelihood(params, ux, ut, uT, counts)

    # Start where the purchase rate matches the data's: alpha in the data's time unit.
    rate = max(float(np.sum(rows[:, 0]) / max(np.sum(rows[:, 2]), 1e-9)), 1e-6)
    start = np.log([1.0, 1.0 / rate, 1.0, 1.0])

    def gradient(params: np.ndarray) -> np.ndarray:
        return log_likelihood_gradient(params, ux, ut, uT, counts)

    outcome = maximize(objective, PARAMETERS, start, customers, repeat_customers, gradient)
    return outcome if not outcome.reliable else _evaluable(outcome, ux, ut, uT)


def _evaluable(outcome: FitOutcome, x, t_x, T) -> FitOutcome:
    """A maximum the expectations cannot be computed at (both forms of the hypergeometric term
    fail, e.g. r and alpha in the tens of millions: a purchase rate that is the same for
    everyone) would fail every prediction made from it: not reliable, with the parameters named.
    Checked for every customer over horizons from one time unit to ten times the history."""
    params = tuple(outcome.parameters[n] for n in PARAMETERS)
    longest = max(float(np.max(T)), 1.0)
    with np.errstate(all="ignore"):
        finite = all(
            np.all(np.isfinite(_expected_purchases(params, t, x, t_x, T)))
            for t in (1.0, longest, 10 * longest)
        )
    if finite:
        return outcome
    return unreliable(
        outcome.customers,
        outcome.repeat_customers,
        "the fit landed where the model's expected purchases cannot be computed: "
        + ", ".join(f"{n}={v:.3g}" for n, v in zip(PARAMETERS, params, strict=True)),
    )


def check_summaries(rows: np.ndarray) -> None:
    """Bad summaries are a bug upstream, and a fit on them would look plausible: refuse them,
    naming the first bad customer (by position) and what was expected."""
    x, t_x, T = rows.T
    problems = (
        (~np.isfinite(rows).all(axis=1), "every value finite"),
        ((x < 0) | (x != np.round(x)), "x a whole number >= 0"),
        ((t_x < 0) | (t_x > T), "0 <= t_x <= T"),
        ((x == 0) & (t_x != 0), "t_x = 0 when x = 0"),
    )
    for bad, expected in problems:
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"customer summary {i} (x={x[i]}, t_x={t_x[i]}, T={T[i]}): expected {expected}"
            )


def probability_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))
    (Fader, Hardie & Lee 2005, appendix; "Computing P(alive)", Fader & Hardie 2008). A customer
    with no repeat purchase cannot have dropped out (drop-outs happen after a purchase): 1."""
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds_dead = (
            np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def _survival_hypergeometric(params, x, T, t) -> np.ndarray:
    """((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; z), z = t/(alpha+T+t).

    Written as is, 2F1's first two arguments grow with x and z nears 1 for a long horizon: the
    series overflows (or converges too slowly) while the power underflows, and the public
    implementations return inf * 0 = nan. Euler's transformation 2F1(A, B; C; z) =
    (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) with 1-z = (alpha+T)/(alpha+T+t) folds the power in:
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose numerator arguments no longer grow
    with x, so the series stays small and converges fast.

    That form fails the other way when a is large (a population whose drop-out probability
    is nearly the same for everyone, b large with it): (1-z)^(a-1) underflows to 0 and its
    2F1 overflows, 0 * inf. The form as written is well-behaved there (its series' ratio
    (b+x)/(a+b+x-1) stays below 1), so it is taken wherever the transformed one is not finite."""
    r, alpha, a, b = params
    z = t / (alpha + T + t)
    with np.errstate(all="ignore"):
        transformed = (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        if np.all(np.isfinite(transformed)):
            return transformed
        as_written = (1 - z) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return np.where(np.isfinite(transformed), transformed, as_written)


def conditional_expected_purchases(params, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T], the expected purchases in the next t time units (equation (10)):
    (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(...)] * P(alive).
    t may be one horizon for all, or one per customer (a cohort projection's remaining days).

    The paper's a/(a-1) has a removable singularity at a = 1 (both factors change sign
    together); a fit landing within 1e-6 of it is evaluated just beside it."""
    expected = _expected_purchases(params, t, x, t_x, T)
    if not np.all(np.isfinite(expected)):
        r, alpha, a, b = params
        raise FloatingPointError(
            f"E[Y({t})] is not finite for parameters r={r}, alpha={alpha}, a={a}, b={b}"
        )
    return expected


def _expected_purchases(params, t, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = params
    if abs(a - 1) < 1e-6:
        a = 1 + 1e-6
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    bracket = 1 - _survival_hypergeometric((r, alpha, a, b), x, T, np.asarray(t, dtype=float))
    return (a + b + x - 1) / (a - 1) * bracket * probability_alive((r, alpha, a, b), x, t_x, T)


def expected_purchases_new_customer(params, t) -> float | np.ndarray:
    """E[X(t)] for a customer just acquired (equation (9)): the population's expected number of
    purchases in (0, t], used for the holdout's and the paper's tracking plots; t a number or
    an array of them."""
    r, alpha, a, b = params
    if abs(a - 1) < 1e-6:
        a = 1 + 1e-6
    # Equation (9) is (10)'s bracket for x = 0, T = 0.
    bracket = 1 - _survival_hypergeometric((r, alpha, a, b), 0.0, 0.0, np.asarray(t, dtype=float))
    expected = (a + b - 1) / (a - 1) * bracket
    return float(expected) if np.ndim(expected) == 0 else expected
