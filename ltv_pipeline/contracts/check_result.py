"""How a contract check reports in Dagster, the same for every raw asset."""

from typing import Any

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from ltv_pipeline.lib.markdown import markdown_table

CONTRACT_CHECK = "contract"
FAILURE_CASES_SHOWN = 20


def contract_check_result(
    failures: pl.DataFrame, breach: str | None, metadata: dict[str, Any]
) -> AssetCheckResult:
    """Failed (blocking downstream) when stored rows break the contract or counts don't add up.

    `breach` is the reason the partition is left out of the model (contracts/left_out.py), None
    when it passes; the failure cases are shown as a table in the UI.
    """
    metadata = {**metadata, "failure_count": failures.height}
    if breach is not None:
        metadata["left_out_of_model"] = breach
    if failures.height:
        # A raw file's failures carry the file line; others, pandera's row index.
        where = "line_number" if "line_number" in failures.columns else "index"
        shown = failures.head(FAILURE_CASES_SHOWN).select("column", "check", "failure_case", where)
        metadata["failure_cases"] = MetadataValue.md(markdown_table(shown.columns, shown.rows()))
    return AssetCheckResult(
        check_name=CONTRACT_CHECK,
        passed=breach is None,
        severity=AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
