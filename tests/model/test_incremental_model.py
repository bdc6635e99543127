"""An incremental model build gives the tables of a full rebuild of the same inputs, and logs
only the customers it rebuilt; anything it cannot add to (another customer-key rule, an input
removed, re-parsed or newly left out, no record of the last build) rebuilds from scratch."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from ltv_pipeline.contracts.left_out import record_verdict
from ltv_pipeline.defs.model.admitted_inputs import admitted_raw_inputs
from ltv_pipeline.defs.model.build import MODEL_TABLES, ModelBuild, build_model, update_model
from tests.marts.cases import order_row, warehouse, webhook, write_orders
from tests.model.loading import load_csv, load_webhooks
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE

DAY = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)


def at(days: int) -> dt.datetime:
    return DAY + dt.timedelta(days=days)


class History:
    """One warehouse fed step by step, with the model built incrementally after each step."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, settings, tmp_path: Path):
        self.conn, self.settings, self.tmp_path = conn, settings, tmp_path
        self.hooks: list[tuple[bytes, dt.datetime]] = []
        self.files = 0

    def export(self, rows: list[list[str]]) -> None:
        self.files += 1
        load_csv(self.conn, self.settings, write_orders(self.tmp_path / f"o{self.files}.csv", rows))

    def deliver(self, *hooks: tuple[bytes, dt.datetime]) -> None:
        self.hooks += hooks
        load_webhooks(self.conn, self.hooks)

    def refresh(self) -> ModelBuild:
        """Build, then prove the tables equal a full rebuild of the same inputs."""
        built = build_model(self.conn)
        assert_equals_full_rebuild(self.conn)
        return built

    def changed(self) -> set[str]:
        """The customers the latest build logged for the marts (None: everything)."""
        return {
            r[0]
            for r in self.conn.execute(
                "SELECT customer_key FROM customer_changes "
                "WHERE seq = (SELECT max(seq) FROM customer_changes)"
            ).fetchall()
        }


def assert_equals_full_rebuild(conn: duckdb.DuckDBPyConnection) -> None:
    """EXCEPT ALL both ways between the stored tables and a full rebuild made in a transaction
    that is rolled back, so the warehouse goes on from its incremental state."""
    for table in MODEL_TABLES:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE kept_{table} AS SELECT * FROM {table}")
    conn.execute("BEGIN TRANSACTION")
    try:
        with admitted_raw_inputs(conn):
            update_model(conn, full=True)
        for table in MODEL_TABLES:
            for one, other in ((table, f"kept_{table}"), (f"kept_{table}", table)):
                extra = conn.execute(
                    f"SELECT * FROM {one} EXCEPT ALL SELECT * FROM {other}"
                ).fetchall()
                assert not extra, f"{table}: rows only in {one}: {extra}"
    finally:
        conn.execute("ROLLBACK")
        for table in MODEL_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS kept_{table}")


@pytest.fixture
def history(ltv_home, tmp_path):
    with warehouse(ltv_home) as conn:
        yield History(conn, ltv_home, tmp_path)


def test_smoke(history):
    history.export([order_row(1, "01/05/2024", 10, 10, "a@x.io"), order_row(2, "01/06/2024", 10, 10, "b@x.io")])
    first = history.refresh()
    assert not first.incremental
    history.export([order_row(2, "01/06/2024", 10, 10, "b@x.io"), order_row(3, "01/07/2024", 11, 20, "c@x.io")])
    second = history.refresh()
    assert second.incremental, second
    assert history.changed() == {"b@x.io", "c@x.io"}
