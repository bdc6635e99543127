"""One DuckDB transaction as a context manager, for every step that must commit whole."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def one_transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Everything inside commits together or not at all (readers never see half a rebuild)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException as error:
        conn.execute("ROLLBACK")
        first = first_failure(error)
        if first is error:
            raise
        raise first from None
    conn.execute("COMMIT")


def first_failure(error: BaseException) -> BaseException:
    """The statement that failed, rather than the clean-up statements of `finally` blocks that
    ran after it in the aborted transaction: those fail with "transaction is aborted", which
    would otherwise be all a user sees of a full disk or a bad row."""
    while (
        isinstance(error, duckdb.TransactionException)
        and "transaction is aborted" in str(error)
        and error.__context__ is not None
    ):
        error = error.__context__
    return error
