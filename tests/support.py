"""Test data locations and small builders shared by the test modules."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from ltv_core.formats.csv_file import inspect_file
from ltv_core.formats.profiles import FormatCatalog
from ltv_core.partition_keys import file_partition_key
from ltv_pipeline.ingest.load_file import FileLoad, load_file

DATA = Path(__file__).parent / "data"
ORDERS_SAMPLE = DATA / "samcart_orders_example.csv"
RECURRING_SAMPLE = DATA / "samcart_recurring_subscriptions_example.csv"
LIMITED_SAMPLE = DATA / "samcart_limited_subscriptions_example.csv"
# The base URL for TestClient on the pages: they answer only their own host names, and
# TestClient's default ("testserver") is not one of them.
LOCAL_PAGES_URL = "http://localhost"


def under_ci() -> bool:
    """True under CI: `.ci/run` exports CI=true, and other runners set CI to 1 or yes."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def skip_unless_ci(reason: str) -> None:
    """A test whose setup cannot be had here is skipped on a developer's machine, but fails under
    CI: a skip there would leave a promise untested without anyone noticing."""
    if under_ci():
        pytest.fail(f"required under CI (CI={os.environ['CI']!r}), but: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    """A loopback port nobody listens on right now, for a real server in a test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_csv(path: Path, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    """Write `text` as a file exactly as an export would: optional BOM and CRLF line ends."""
    data = text.replace("\n", "\r\n") if crlf else text
    raw = data.encode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + raw if bom else raw)
    return path


def load(
    conn: duckdb.DuckDBPyConnection,
    catalog: FormatCatalog,
    path: Path,
    format_name: str = "samcart-orders",
    account: str = "default",
) -> FileLoad:
    """Load one file through the raw assets' code path, filed under its own content hash."""
    return load_file(
        conn,
        catalog=catalog,
        profile=catalog.profile(format_name),
        account=account,
        file_hash=inspect_file(path).sha256,
        path=path,
        file_name=path.name,
        partition_key=file_partition_key(
            account, inspect_file(path).sha256, path.name, "2024-01-01"
        ),
        date_order="MDY",
    )


def landed_file_tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The files' own landed tables, by name: one per loaded file, and nothing half-made."""
    rows = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'landed' "
        "AND database_name = current_database() ORDER BY 1"
    ).fetchall()
    return [name for (name,) in rows]


@contextmanager
def warehouse_held(path: Path, seconds: float = 60) -> Iterator[subprocess.Popen]:
    """Another process holding the DuckDB file read-write, as a Dagster run would."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(float(sys.argv[2])); c.close()",
            str(path),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def write_file_failing_at_parse(path: Path) -> Path:
    """An orders export that is received and archived (a UTF-16 byte-order mark and a known
    header) but that cannot be read while its rows are parsed: far past the part the header is
    read from, it holds a lone UTF-16 surrogate, which no decoder can turn into text."""
    header, row = ORDERS_SAMPLE.read_text(encoding="utf-8-sig").splitlines()[:2]
    text = "\n".join([header, *[row] * 800]) + "\n"
    lone_surrogate = b"\x00\xdc"  # U+DC00 alone, in UTF-16-LE
    path.write_bytes(
        b"\xff\xfe" + text.encode("utf-16-le") + lone_surrogate + "x\n".encode("utf-16-le")
    )
    return path


@contextmanager
def dagster_daemon(home: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """A real `dagster-daemon` over the pipeline's definitions, as `ltv run` starts it, logging
    to `home/daemon.log`; its whole process group is stopped on exit."""
    daemon = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-daemon")),
            "run",
            "-m",
            "ltv_pipeline.definitions",
        ],
        env=dict(os.environ) if env is None else env,
        stdout=open(home / "daemon.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield daemon
    finally:
        stop_process_group(daemon, grace_seconds=30)


def stop_process_group(process: subprocess.Popen, grace_seconds: float = 20) -> None:
    """SIGTERM to a process started in its own session, then SIGKILL if it outlives the grace."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
