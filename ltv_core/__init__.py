"""What the pipeline, the webhook receiver and the pages share: no Dagster, no FastAPI.

The three processes meet only here: the settings and the layout of LTV_HOME, atomic file writes,
the SamCart file formats and receiving a file (hash, archive, result), the hand-off of webhook
deliveries from the receiver to the pipeline (segments, the deliveries table, the URL tokens),
and the published report snapshot the pages read. Nothing here imports the three packages.
"""
