"""The warehouse tables the predictions are stored in, and their columns: named once, so that the
assets, the reports that read them (which must not import scipy) and the tests that write them
by hand all agree.

`ltv_model_summaries` holds the customer summaries the stored fits were made on; it is written
with `ltv_model_fits`, in one transaction, so the two always belong together, and
`predicted_customer_ltv` scores it rather than asking the warehouse for the summaries again.
`predicted_customer_ltv` keeps every summary column (monetary too), so `cohort_ltv_projected`
reads it rather than the warehouse.
"""

FITS_TABLE = "ltv_model_fits"
SUMMARIES_TABLE = "ltv_model_summaries"
PREDICTIONS_TABLE = "predicted_customer_ltv"
PROJECTED_TABLE = "cohort_ltv_projected"
PREDICTION_TABLES = (FITS_TABLE, SUMMARIES_TABLE, PREDICTIONS_TABLE, PROJECTED_TABLE)

MONEY = "DECIMAL(18, 2)"
# BG/NBD's r, alpha, a, b and its log-likelihood, then Gamma-Gamma's p, q, gamma.
FIT_PARAMETERS = ("r", "alpha", "a", "b", "log_likelihood", "p", "q", "gamma")
HORIZON_DAYS = (90, 180, 365)

FITS_COLUMNS = (
    "account VARCHAR, fitted_at TIMESTAMP, calibration_end DATE, time_unit VARCHAR, "
    "customers BIGINT, repeat_customers BIGINT, reliable BOOLEAN, reason VARCHAR, "
    + ", ".join(f"{name} DOUBLE" for name in FIT_PARAMETERS)
)
# As summaries.summaries_sql gives them: the same floats come back out.
SUMMARIES_COLUMNS = (
    'account VARCHAR, customer_key VARCHAR, first_day DATE, x BIGINT, t_x DOUBLE, "T" DOUBLE, '
    "m_x DOUBLE"
)
PREDICTIONS_COLUMNS = ", ".join(
    [
        "account VARCHAR",
        "customer_key VARCHAR",
        "first_purchase_day DATE",
        "frequency INTEGER",
        "recency DOUBLE",
        '"T" DOUBLE',
        "monetary DOUBLE",  # m_x, the mean value of the repeat occasions (0 without any)
        "p_alive DOUBLE",
        *(f"expected_purchases_{d} DOUBLE" for d in HORIZON_DAYS),
        *(f"expected_value_{d} {MONEY}" for d in HORIZON_DAYS),
        "fitted_at TIMESTAMP",
    ]
)
PROJECTED_COLUMNS = (
    f"account VARCHAR, cohort_start VARCHAR, period VARCHAR, cohort VARCHAR, horizon VARCHAR, "
    f"projected_net_ltv {MONEY}, customers BIGINT, fitted_at TIMESTAMP, reliable BOOLEAN"
)
