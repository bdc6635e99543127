"""What a maximum-likelihood fit returns: parameters only when they can be trusted.

The public implementations return whatever the optimizer stopped at; here a fit that did not
converge, or that ran on too few repeat customers, says so (`reliable: false` with a reason)
and carries no parameters, so no caller can print a number from it by mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

# Below this many repeat customers the parameters swing with a handful of people (issue 16).
MIN_REPEAT_CUSTOMERS = 100


@dataclass(frozen=True)
class FitOutcome:
    """`parameters` (name -> value) and `log_likelihood` are None unless `reliable`."""

    parameters: dict[str, float] | None
    log_likelihood: float | None
    customers: int
    repeat_customers: int
    reliable: bool
    reason: str | None = None

    def as_dict(self) -> dict:
        return {
            **(self.parameters or {}),
            "log_likelihood": self.log_likelihood,
            "customers": self.customers,
            "repeat_customers": self.repeat_customers,
            "reliable": self.reliable,
            "reason": self.reason,
        }


def unreliable(customers: int, repeat_customers: int, reason: str) -> FitOutcome:
    return FitOutcome(None, None, customers, repeat_customers, False, reason)


def maximize(
    log_likelihood: Callable[[np.ndarray], float],
    names: tuple[str, ...],
    start: np.ndarray,
    customers: int,
    repeat_customers: int,
    gradient: Callable[[np.ndarray], np.ndarray] | None = None,
) -> FitOutcome:
    """Maximise over the logarithms of positive parameters (so the optimizer never steps
    outside the domain), then check the answer: converged, finite, and not at the edge of
    what floating point can represent. `gradient`, the log-likelihood's derivatives in the
    parameters, spares the optimizer its numerical ones."""
    if repeat_customers < MIN_REPEAT_CUSTOMERS:
        return unreliable(
            customers,
            repeat_customers,
            f"only {repeat_customers} repeat customers; at least {MIN_REPEAT_CUSTOMERS} are "
            "needed for parameters that do not swing with a few people",
        )

    def negative(log_params: np.ndarray) -> float:
        with np.errstate(all="ignore"):  # a trial point off in the tails is just rejected
            value = log_likelihood(np.exp(log_params))
        return -value if np.isfinite(value) else np.inf

    def negative_gradient(log_params: np.ndarray) -> np.ndarray:
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            value = -gradient(params) * params  # d/d log(theta) = theta d/d theta
        return value if np.all(np.isfinite(value)) else np.zeros_like(value)

    result = _minimize(negative, start, None if gradient is None else negative_gradient)
    params = np.exp(result.x)
    if not np.isfinite(result.fun) or not np.all(np.isfinite(params)):
        return unreliable(
            customers, repeat_customers, "the fit did not converge (non-finite likelihood)"
        )
    if not _converged(negative, result):
        return unreliable(
            customers, repeat_customers, f"the fit did not converge: {result.message}"
        )
    if np.any(np.abs(result.x) > 25):
        return unreliable(
            customers,
            repeat_customers,
            "the fit did not converge: a parameter ran off to "
            + ", ".join(f"{n}={v:.3g}" for n, v in zip(names, params, strict=True)),
        )
    return FitOutcome(
        {n: float(v) for n, v in zip(names, params, strict=True)},
        float(-result.fun),
        customers,
        repeat_customers,
        True,
    )


def _minimize(negative: Callable[[np.ndarray], float], start: np.ndarray, jac=None):
    """BFGS from the start; if it stops away from an optimum (a poor start far out in the
    tails), Nelder-Mead, which needs no gradient there, then BFGS again from where it got."""
    with np.errstate(all="ignore"):
        result = minimize(negative, start, method="BFGS", jac=jac)
        if _converged(negative, result):
            return result
        simplex = minimize(negative, start, method="Nelder-Mead", options={"maxiter": 5000})
        polished = minimize(negative, simplex.x, method="BFGS", jac=jac)
    return polished if np.isfinite(polished.fun) and polished.fun <= simplex.fun else simplex


def _converged(negative: Callable[[np.ndarray], float], result) -> bool:
    return bool(np.isfinite(result.fun)) and (result.success or _stationary(negative, result.x))


def _stationary(negative: Callable[[np.ndarray], float], x: np.ndarray) -> bool:
    """BFGS often reports a 'precision loss' at a true optimum (the likelihood is flat to
    machine precision there): accept it when the numerical gradient is small. With a million
    customers the likelihood is a million times larger, and so is its rounding: the bound
    grows with it."""
    step = 1e-5
    gradient = [
        (negative(x + step * e) - negative(x - step * e)) / (2 * step) for e in np.eye(len(x))
    ]
    bound = max(1e-2, 1e-6 * abs(negative(x)))
    return bool(np.all(np.isfinite(gradient)) and np.max(np.abs(gradient)) < bound)
