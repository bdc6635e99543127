"""How a contract check reports in Dagster, the same for every raw asset."""

from typing import Any

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from ltv_pipeline.lib.markdown import markdown_table

CONTRACT_CHECK = "contract"
FAILURE_CASES_SHOWN = 20


def contract_check_result(
    failures: pl.DataFrame, balanced: bool, metadata: dict[str, Any]
) -> AssetCheckResult:
    """Failed (blocking downstream) when stored rows break the contract or counts don't add up.

    `balanced` is the asset's own arithmetic (every input row stored or rejected); the failure
    cases are shown as a table in the UI.
    """
    metadata = {**metadata, "failure_count": failures.height}
    if failures.height:
        # A raw file's failures carry the file line; others, pandera's row index.
        where = "line_number" if "line_number" in failures.columns else "index"
        shown = failures.head(FAILURE_CASES_SHOWN).select("column", "check", "failure_case", where)
        metadata["failure_cases"] = MetadataValue.md(markdown_table(shown.columns, shown.rows()))
    return AssetCheckResult(
        check_name=CONTRACT_CHECK,
        passed=balanced and failures.height == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
