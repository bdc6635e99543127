"""The predictive LTV assets (issue 16): `ltv_model_fits` (BG/NBD and Gamma-Gamma per account),
`predicted_customer_ltv` (per customer) and `cohort_ltv_projected` (the censored cells of
`cohort_ltv`, projected). Thin: the numbers are made in ltv_pipeline/metrics/predictive/.

They depend on the model and mart tables they read, so the lineage shows what a fit is made
of, but refresh by their own daily condition (automation.py), never per delivery.

The customer summaries are asked of the warehouse once per refresh, by the fit (and once more
per account at the split day, for its holdout plot): the fit stores them beside itself, the
predictions score those, and the projection reads them from the predictions.
"""

import datetime as dt

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ltv_pipeline.defs.predictions.automation import PREDICTIONS_GROUP, refresh_daily
from ltv_pipeline.defs.predictions.chart import tracking_metadata
from ltv_pipeline.lib.markdown import markdown_table
from ltv_pipeline.metrics.as_of import data_as_of_day
from ltv_pipeline.metrics.predictive.account_fits import (
    FITS_TABLE,
    PARAMETERS,
    fit_accounts,
    read_all_summaries,
    read_fits,
    write_fits,
)
from ltv_pipeline.metrics.predictive.customer_predictions import (
    PREDICTIONS_TABLE,
    build_customer_predictions,
)
from ltv_pipeline.metrics.predictive.projection import PROJECTED_TABLE, build_cohort_projection
from ltv_pipeline.metrics.predictive.tracking import tracking
from ltv_pipeline.warehouse.connection import Warehouse


def _fits_metadata(fits) -> dict[str, MetadataValue]:
    rows = [
        [f.account, f.customers, f.repeat_customers, f.reliable, f.reason or ""]
        + ["" if f.parameters is None else f"{f.parameters[name]:.6g}" for name in PARAMETERS]
        for f in fits
    ]
    columns = ["account", "customers", "repeat customers", "reliable", "reason", *PARAMETERS]
    return {"fits": MetadataValue.md(markdown_table(columns, rows))}


def build_prediction_assets(timezone: str) -> list[AssetsDefinition]:
    condition = refresh_daily(timezone)

    @asset(
        name=FITS_TABLE,
        deps=["customers", "transactions"],
        group_name=PREDICTIONS_GROUP,
        kinds={"duckdb"},
        automation_condition=condition,
        description="BG/NBD and Gamma-Gamma fitted per account on every customer up to the "
        "data's latest day (time in days); parameters NULL and a reason when not reliable. "
        "The customer summaries fitted on are stored beside it, in ltv_model_summaries. "
        "Metadata: a calibration/holdout plot per account.",
    )
    def ltv_model_fits(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        fitted_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with warehouse.get_connection() as conn:
            latest = data_as_of_day(conn)
            summaries, fits = None, []
            if latest is not None:  # else nobody has bought yet
                summaries = read_all_summaries(conn, latest)
                fits = fit_accounts(summaries, latest, fitted_at)
            metadata: dict[str, object] = {
                "dagster/row_count": len(fits),
                "fitted_at": MetadataValue.text(f"{fitted_at.isoformat(timespec='seconds')}Z"),
                "calibration_end": MetadataValue.text(str(latest)),
                **_fits_metadata(fits),
            }
            for fit in fits:
                track = tracking(conn, fit.account, latest) if latest else None
                if track is None:
                    context.log.info(f"{fit.account}: history too short for a holdout plot")
                    continue
                metadata.update(tracking_metadata(fit.account, track))
            # Written last, with the summaries fitted on: a run stopped before the
            # materialization is recorded leaves the fit (and summaries) the predictions were
            # made from.
            write_fits(conn, fits, summaries)
        return MaterializeResult(metadata=metadata)

    @asset(
        name=PREDICTIONS_TABLE,
        deps=[FITS_TABLE, "transactions"],
        group_name=PREDICTIONS_GROUP,
        kinds={"duckdb"},
        automation_condition=condition,
        description="Per customer: the summary the account's fit saw (frequency, recency, T, "
        "monetary), probability alive, expected purchases and expected value (undiscounted, in "
        "the marts' currency units) over the next 90, 180 and 365 days, from that fit; NULL "
        "when it is not reliable.",
    )
    def predicted_customer_ltv(warehouse: Warehouse) -> MaterializeResult:
        with warehouse.get_connection() as conn:
            rows = build_customer_predictions(conn, read_fits(conn))
        return MaterializeResult(metadata={"dagster/row_count": rows})

    @asset(
        name=PROJECTED_TABLE,
        deps=[FITS_TABLE, PREDICTIONS_TABLE, "customer_ltv", "cohort_ltv"],
        group_name=PREDICTIONS_GROUP,
        kinds={"duckdb"},
        automation_condition=condition,
        description="A projected net LTV for each right-censored cell of cohort_ltv (not all "
        "time): observed value where a customer is old enough, else observed to date plus the "
        "model's expected value for the days left. Kept apart from the observed cells.",
    )
    def cohort_ltv_projected(warehouse: Warehouse) -> MaterializeResult:
        with warehouse.get_connection() as conn:
            rows = build_cohort_projection(conn, read_fits(conn))
        return MaterializeResult(metadata={"dagster/row_count": rows})

    return [ltv_model_fits, predicted_customer_ltv, cohort_ltv_projected]
