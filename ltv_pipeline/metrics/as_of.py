"""The as-of day: the latest day covered by the data (the latest transaction or delivery day
across all sources), unless the user sets one."""

from __future__ import annotations

import datetime as dt

import duckdb

DATA_DAYS_SQL = """
SELECT max(day) FROM (
    SELECT max(transaction_day) AS day FROM transactions
    UNION ALL SELECT max(declined_day) FROM declined_charges
    UNION ALL SELECT max(received_day) FROM raw_samcart_webhook_events
)"""


def data_as_of_day(conn: duckdb.DuckDBPyConnection) -> dt.date | None:
    return conn.execute(DATA_DAYS_SQL).fetchall()[0][0]


def resolve_as_of(conn: duckdb.DuckDBPyConnection, chosen: dt.date | None) -> dt.date:
    """The user's day if set, else the data's; an empty warehouse is as of today."""
    return chosen or data_as_of_day(conn) or dt.date.today()


def day_literal(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"
