"""BG/NBD and Gamma-Gamma fitted on the CDNOW sample give the papers' published parameters, to
the printed digits (Fader, Hardie & Lee 2005; tests/predictive/data/ for the attribution)."""

from ltv_pipeline.metrics.predictive import bgnbd, gamma_gamma
from tests.predictive.cdnow import cdnow_summaries


def test_the_summaries_are_the_papers():
    s = cdnow_summaries()
    assert len(s["x"]) == 2357
    assert int((s["x"] > 0).sum()) == 946
    # Customer 1 (id 00004): bought 1997-01-01, -01-18, -08-02 in the calibration period.
    assert (s["x"][0], round(s["t_x"][0], 2), round(s["T"][0], 2)) == (2, 30.43, 38.86)
    assert abs(s["m_x"][0] - 22.345) < 1e-9  # (29.73 + 14.96) / 2, printed 22.35


def test_bgnbd_gives_the_papers_parameters():
    s = cdnow_summaries()
    fit = bgnbd.fit(s["x"], s["t_x"], s["T"])
    assert fit.reliable, fit.reason
    p = fit.parameters
    assert (round(p["r"], 3), round(p["alpha"], 3), round(p["a"], 3), round(p["b"], 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(fit.log_likelihood, 1) == -9582.4
    assert (fit.customers, fit.repeat_customers) == (2357, 946)


def test_gamma_gamma_gives_the_papers_parameters():
    s = cdnow_summaries()
    fit = gamma_gamma.fit(s["x"], s["m_x"])
    assert fit.reliable, fit.reason
    p = fit.parameters
    assert (round(p["p"], 2), round(p["q"], 2), round(p["gamma"], 2)) == (6.25, 3.74, 15.44)
    assert fit.customers == 946


def test_the_likelihood_at_the_papers_parameters_is_the_papers():
    """The closed form itself, apart from the optimizer."""
    s = cdnow_summaries()
    value = bgnbd.log_likelihood((0.243, 4.414, 0.793, 2.426), s["x"], s["t_x"], s["T"])
    assert round(value, 1) == -9582.4
