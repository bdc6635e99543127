"""Pandera contracts of the assets.

pandera (with its polars backends, about 0.3-0.4 s to import here) is loaded by the runs that
check a contract, when they first do, not by every process that loads the definitions: the
contract modules that use it are imported where a contract is checked (see
`ltv_pipeline.ingest.contract_holding` and the webhook events asset).
"""
