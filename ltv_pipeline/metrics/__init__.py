"""The LTV metrics: each definition of docs/metrics.md written once, as SQL over the unified model.

The marts (Dagster assets) and `ltv report` both call these functions, so a number means the
same thing wherever it is shown.
"""
