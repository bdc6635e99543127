"""The warehouse tables the predictions are stored in: named once, so that the assets, the
reports that read them (which must not import scipy) and the comparisons all agree."""

FITS_TABLE = "ltv_model_fits"
PREDICTIONS_TABLE = "predicted_customer_ltv"
PROJECTED_TABLE = "cohort_ltv_projected"
PREDICTION_TABLES = (FITS_TABLE, PREDICTIONS_TABLE, PROJECTED_TABLE)
