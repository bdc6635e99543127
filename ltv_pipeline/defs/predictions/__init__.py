"""Predictive LTV (issue 16) as Dagster assets: the fitted models per account, per-customer
predictions and projected cohort cells, refreshed at most daily by their own sensor."""
