"""Bringing a warehouse's schema up to date as it is opened for writing, once per version.

The warehouse records the last numbered migration applied and the fingerprint of the schema it
was made to (schema.definitions()). An open that finds both current does nothing more than read
them; otherwise it creates what is missing, runs the migrations not yet applied, rewrites the
views that differ, and records the new state. A warehouse from before versioning has no record,
and gets every migration (each finds nothing to do unless its old layout is there)."""

from __future__ import annotations

import duckdb

from ltv_pipeline.lib.transaction import one_transaction
from ltv_pipeline.warehouse.migrations import CURRENT_VERSION, MIGRATIONS
from ltv_pipeline.warehouse.schema import create_tables, create_views, definitions


class NewerWarehouse(RuntimeError):
    """The warehouse was written by a newer version of this software, with migrations this one
    does not know: going on could undo them."""


def stored_version(conn: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """(last migration applied, definitions) as recorded, or None before versioning."""
    try:
        row = conn.execute("SELECT version, definitions FROM schema_version").fetchone()
    except duckdb.CatalogException:
        return None
    return (row[0], row[1]) if row else None


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Make the schema current; with one writer process at a time, before anything is loaded."""
    stored = stored_version(conn)
    if stored == (CURRENT_VERSION, definitions()):
        return
    version = stored[0] if stored else 0
    if version > CURRENT_VERSION:
        raise NewerWarehouse(
            f"the warehouse is at schema version {version}, written by a newer ltv-pipeline; "
            f"this one knows versions up to {CURRENT_VERSION}: upgrade ltv-pipeline to open it"
        )
    create_tables(conn)
    for number, migrate in MIGRATIONS:
        if number > version:
            migrate(conn)
            _record(conn, number, "")  # the views are checked once all migrations ran
    create_views(conn)
    _record(conn, CURRENT_VERSION, definitions())


def _record(conn: duckdb.DuckDBPyConnection, version: int, schema_definitions: str) -> None:
    with one_transaction(conn):
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version VALUES (?, ?)", [version, schema_definitions])
