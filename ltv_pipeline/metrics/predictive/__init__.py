"""Predictive LTV: BG/NBD (how many more purchases, and is the customer still "alive") and
Gamma-Gamma (what each purchase is worth), fitted by maximum likelihood on customer summaries.

Why scipy and not pymc-marketing, the maintained library for these models: its 1.x needs
Python 3.12 (the project runs on 3.11), and 0.19, the last to run on 3.11, brings PyMC, PyTensor
and ArviZ with it (a compiler toolchain at import time, hundreds of MB) for what is a closed-form
log-likelihood and a four-parameter optimisation. scipy gives the special functions (log-gamma,
log-beta, the Gauss hypergeometric function) and a well-kept optimizer; the formulas are the
papers' own (Fader, Hardie & Lee 2005), written here once, in log space, and proved on the
papers' CDNOW sample (tests/predictive/).

Plain functions over numpy arrays: no Dagster, no warehouse (the summaries come from SQL in
summaries.py).
"""
