"""Every warehouse connection is held to LTV_WAREHOUSE_MEMORY_LIMIT, so one bad input fails its
run instead of taking the machine (a webhook delivery once OOM-killed `ltv materialize`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltv_core.settings import Settings, SettingsError
from ltv_pipeline.warehouse.connection import Warehouse, open_warehouse


def _memory_limit(conn) -> str:
    return conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def _settings(home: Path, **env: str) -> Settings:
    return Settings.from_env({"LTV_HOME": str(home), **env})


def test_warehouse_connections_have_the_configured_memory_limit(tmp_path: Path) -> None:
    settings = _settings(tmp_path, LTV_WAREHOUSE_MEMORY_LIMIT="512MiB")
    for read_only, warehouse_only in [(False, False), (True, False), (True, True)]:
        conn = open_warehouse(settings, read_only=read_only, warehouse_only=warehouse_only)
        try:
            assert _memory_limit(conn) == "512.0 MiB"
        finally:
            conn.close()
    with Warehouse.of(settings).get_connection() as conn:  # what the assets use
        assert _memory_limit(conn) == "512.0 MiB"


def test_the_default_memory_limit_is_a_share_of_the_machine(tmp_path: Path) -> None:
    conn = open_warehouse(_settings(tmp_path))
    try:
        default = _memory_limit(conn)
        conn.execute("SET memory_limit = '60%'")
        assert default == _memory_limit(conn)
        conn.execute("RESET memory_limit")  # DuckDB's own default is 80%
        assert default != _memory_limit(conn)
    finally:
        conn.close()


@pytest.mark.parametrize("value", ["lots", "60", "8 parsecs", "-1GB"])
def test_a_memory_limit_that_is_not_a_size_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="LTV_WAREHOUSE_MEMORY_LIMIT="):
        Settings.from_env({"LTV_WAREHOUSE_MEMORY_LIMIT": value})


def test_the_resources_connection_config_reaches_every_connection(tmp_path: Path) -> None:
    settings = _settings(tmp_path, LTV_WAREHOUSE_MEMORY_LIMIT="512MiB")
    resource = Warehouse.of(settings, connection_config={"threads": 1})
    for read_only in (False, True):
        with resource.get_connection(read_only=read_only) as conn:
            assert conn.execute("SELECT current_setting('threads')").fetchone()[0] == 1
            assert _memory_limit(conn) == "512.0 MiB"  # beside the memory limit
