"""Shared fixtures: a fresh LTV_HOME per test, and the sample SamCart exports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ltv_core.formats.profiles import FormatCatalog, load_catalog
from ltv_core.settings import Settings
from ltv_pipeline.warehouse.schema_version import ensure_schema


@pytest.fixture
def ltv_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A temporary LTV_HOME, exported so that every component (and subprocess) uses it."""
    home = tmp_path / "ltv_home"
    monkeypatch.setenv("LTV_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("LTV_INBOX_SETTLE_SECONDS", "0")
    settings = Settings.from_env()
    settings.ensure_layout()
    return settings


@pytest.fixture
def catalog() -> FormatCatalog:
    return load_catalog()


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schema(conn)
    yield conn
    conn.close()
