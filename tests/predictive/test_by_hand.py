"""Conditional expectation, P(alive) and expected value against the papers' formulas worked by
hand (plain math, the hypergeometric series summed term by term), at the CDNOW parameters."""

import math

import pytest

from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from ltv_pipeline.metrics.predictive.expected_value import expected_value

R, ALPHA, A, B = 0.243, 4.414, 0.793, 2.426
P, Q, GAMMA = 6.25, 3.74, 15.44
BGNBD = (R, ALPHA, A, B)
SPEND = (P, Q, GAMMA)


def series_2f1(a, b, c, z, terms=2000):
    total, term = 0.0, 1.0
    for j in range(terms):
        total += term
        term *= (a + j) * (b + j) / ((c + j) * (j + 1)) * z
    return total


def by_hand_alive(x, t_x, T):
    if x == 0:
        return 1.0
    return 1 / (1 + A / (B + x - 1) * ((ALPHA + T) / (ALPHA + t_x)) ** (R + x))


def by_hand_expected(t, x, t_x, T):
    """Fader, Hardie & Lee (2005), equation (10), as printed."""
    z = t / (ALPHA + T + t)
    power = ((ALPHA + T) / (ALPHA + T + t)) ** (R + x)
    bracket = 1 - power * series_2f1(R + x, B + x, A + B + x - 1, z)
    return (A + B + x - 1) / (A - 1) * bracket * by_hand_alive(x, t_x, T)


CUSTOMERS = [  # (x, t_x, T) in weeks
    (0, 0.0, 38.86),  # bought once, on the first day
    (0, 0.0, 27.0),  # bought once, later
    (2, 30.43, 38.86),  # the sample's customer 1
    (7, 35.0, 38.0),  # a frequent buyer, seen lately
    (7, 5.0, 38.0),  # a frequent buyer, not seen for long
]


@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
def test_probability_alive(x, t_x, T):
    got = bgnbd.probability_alive(BGNBD, [x], [t_x], [T])[0]
    assert got == pytest.approx(by_hand_alive(x, t_x, T), rel=1e-12)


@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
@pytest.mark.parametrize("t", [1.0, 39.0, 52.0])
def test_conditional_expected_purchases(t, x, t_x, T):
    got = bgnbd.conditional_expected_purchases(BGNBD, t, [x], [t_x], [T])[0]
    assert got == pytest.approx(by_hand_expected(t, x, t_x, T), rel=1e-9)


def test_the_worked_example_of_the_paper_note():
    """Fader & Hardie's BG/NBD note: the sample's customer 1 is expected to make 1.226
    purchases in the next 39 weeks; and a one-time buyer is alive for sure (no drop-out
    without a repeat purchase), while a frequent buyer not seen for 33 weeks is not."""
    assert bgnbd.conditional_expected_purchases(BGNBD, 39, [2], [30.43], [38.86])[0] == (
        pytest.approx(1.226, abs=5e-4)
    )
    alive = bgnbd.probability_alive(BGNBD, [0, 7], [0.0, 5.0], [38.86, 38.0])
    assert alive[0] == 1.0 and alive[1] < 0.01


def test_expected_average_value_and_expected_value():
    # Customer 1: repeat purchases of $29.73 and $14.96, mean 22.345.
    by_hand_mean = P * (GAMMA + 22.345 * 2) / (P * 2 + Q - 1)
    population_mean = P * GAMMA / (Q - 1)
    got = gamma_gamma.expected_average_value(SPEND, [2, 0], [22.345, 0.0])
    assert got[0] == pytest.approx(by_hand_mean, rel=1e-12)
    assert got[1] == pytest.approx(population_mean, rel=1e-12)  # frequency 0
    value = expected_value(BGNBD, SPEND, 39, [2, 0], [30.43, 0.0], [38.86, 38.86], [22.345, 0])
    assert value[0] == pytest.approx(by_hand_expected(39, 2, 30.43, 38.86) * by_hand_mean)
    assert value[1] == pytest.approx(by_hand_expected(39, 0, 0.0, 38.86) * population_mean)


def test_a_new_customers_expected_purchases():
    """Equation (9): E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; z)]."""
    t = 39.0
    z = t / (ALPHA + t)
    hand = (A + B - 1) / (A - 1) * (1 - (ALPHA / (ALPHA + t)) ** R * series_2f1(R, B, A + B - 1, z))
    assert bgnbd.expected_purchases_new_customer(BGNBD, t) == pytest.approx(hand, rel=1e-9)
    assert not math.isnan(hand)
