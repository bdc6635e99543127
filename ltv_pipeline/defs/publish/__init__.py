"""Publishing the marts' report rows for the report page (see ltv_pipeline.reports.publish)."""
