"""The warehouse: one DuckDB file, one writer process at a time.

DuckDB refuses a second process outright while one holds the file ("Conflicting lock is held"),
so every opener waits politely for the holder to finish, up to the busy timeout, and then says
`warehouse busy` instead of failing with a lock trace. A write open brings the schema up to
date (schema_version) and clears what a killed load left (landed.drop_abandoned_loads).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource
from pydantic import Field

from ltv_core.settings import DEFAULT_WAREHOUSE_MEMORY_LIMIT, Settings
from ltv_pipeline.warehouse.landed import drop_abandoned_loads
from ltv_pipeline.warehouse.schema_version import ensure_schema

RETRY_SLEEP_SECONDS = 0.25
# DuckDB settings that confine a connection to the database file it opened: no other files read
# or written (COPY, EXPORT, read_csv, ATTACH), no network, no extensions installed or loaded, and
# no way for the query to switch any of this back on. Some only take effect at connect time.
WAREHOUSE_ONLY = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse for longer than the busy timeout."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def connect_warehouse(
    path: Path,
    *,
    read_only: bool = False,
    timeout_seconds: float = 60.0,
    warehouse_only: bool = False,
    memory_limit: str = DEFAULT_WAREHOUSE_MEMORY_LIMIT,
    config: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting while another process holds it.

    `warehouse_only` is for SQL a user types (`ltv sql`): it may read the warehouse and nothing
    else on the machine (see WAREHOUSE_ONLY). Every connection is held to a memory limit
    (LTV_WAREHOUSE_MEMORY_LIMIT), so a runaway query fails its run, not the machine.
    `config` is further DuckDB settings (the resource's connection_config); it may override the
    memory limit, but never the confinement of `warehouse_only`.
    """
    duckdb_config = {"memory_limit": memory_limit, **(config or {})}
    if warehouse_only:
        duckdb_config.update(WAREHOUSE_ONLY)
    path.parent.mkdir(parents=True, exist_ok=True)
    if read_only and not path.exists():
        # A read-only open of a missing file fails; an empty warehouse is the honest answer.
        connect_warehouse(
            path, timeout_seconds=timeout_seconds, memory_limit=memory_limit, config=config
        ).close()
    deadline = time.monotonic() + timeout_seconds
    started = time.monotonic()
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only, config=duckdb_config)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                waited = time.monotonic() - started
                raise WarehouseBusy(
                    f"warehouse busy: {path} stayed locked by another process for {waited:.0f} s"
                ) from None
            time.sleep(RETRY_SLEEP_SECONDS)
            continue
        if not read_only:
            try:
                drop_abandoned_loads(conn)
                ensure_schema(conn)
            except BaseException:
                conn.close()
                raise
        return conn


def open_warehouse(
    settings: Settings, *, read_only: bool = False, warehouse_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """The warehouse of these settings (its path, busy timeout and memory limit): the CLI's
    opener."""
    return connect_warehouse(
        settings.warehouse_path,
        read_only=read_only,
        warehouse_only=warehouse_only,
        timeout_seconds=settings.busy_timeout_seconds,
        memory_limit=settings.warehouse_memory_limit,
    )


class Warehouse(ConfigurableResource):
    """The Dagster resource the assets use: dagster-duckdb's DuckDBResource (the file and its
    connection_config) opened with the CLI's opener, so it waits for a lock held by another
    process instead of failing, and holds the memory limit. connection_config reaches every
    connection."""

    duckdb: DuckDBResource
    busy_timeout_seconds: float = Field(default=60.0, description="Wait this long for a lock.")
    memory_limit: str = Field(
        default=DEFAULT_WAREHOUSE_MEMORY_LIMIT,
        description="DuckDB's memory_limit for every connection (LTV_WAREHOUSE_MEMORY_LIMIT).",
    )

    @classmethod
    def of(cls, settings: Settings, connection_config: dict[str, Any] | None = None) -> Warehouse:
        return cls(
            duckdb=DuckDBResource(
                database=str(settings.warehouse_path), connection_config=connection_config or {}
            ),
            busy_timeout_seconds=settings.busy_timeout_seconds,
            memory_limit=settings.warehouse_memory_limit,
        )

    @contextmanager
    def get_connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = connect_warehouse(
            Path(self.duckdb.database),
            read_only=read_only,
            timeout_seconds=self.busy_timeout_seconds,
            memory_limit=self.memory_limit,
            config=self.duckdb.connection_config,
        )
        try:
            yield conn
        finally:
            conn.close()
