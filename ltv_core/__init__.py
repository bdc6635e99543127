"""What the pipeline, the webhook receiver and the pages share: no Dagster, no FastAPI."""
