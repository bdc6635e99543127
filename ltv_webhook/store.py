"""The landing store: group commit into the sidecar's own DuckDB segment, one writer thread.

Requests hand their delivery to the event loop's pending list and wait on a future. A flusher
takes everything pending as one batch and runs one INSERT + COMMIT on the writer thread (the only
thread that ever touches the connection), then answers every request in the batch at once:
one thread hop per batch, not per request. A 2xx therefore always follows a commit.
Every `seal_seconds` a non-empty segment is closed and moved to sealed/ for the pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ltv_webhook.segments import (
    TABLE,
    Layout,
    OwnerLock,
    new_owner_id,
    open_segment,
    recover_dead_owners,
    recover_segment,
    seal,
)

log = logging.getLogger("ltv_webhook.store")

COMMIT_TIMEOUT_SECONDS = 10.0
MAX_REMEMBERED_HASHES = 1_000_000
ARROW_SCHEMA = pa.schema(
    [
        ("account", pa.string()),
        ("content_hash", pa.string()),
        ("received_at", pa.timestamp("us")),
        ("content_type", pa.string()),
        ("body", pa.binary()),
        ("outcome", pa.string()),
        ("reason", pa.string()),
    ]
)


class StoreUnavailable(RuntimeError):
    """The delivery could not be committed; the sender must retry (HTTP 503)."""


@dataclass(frozen=True)
class Delivery:
    account: str
    content_hash: str
    received_at: dt.datetime  # naive UTC
    content_type: str | None
    body: bytes
    outcome: str  # "accepted" or "dead_letter"
    reason: str | None = None


class _Writer:
    """Everything that touches the segment connection; called only on the writer thread."""

    def __init__(self, layout: Layout, owner: OwnerLock) -> None:
        self.layout = layout
        self.owner = owner
        self.sequence = 0
        self.rows = 0
        self.path: Path | None = None
        self.conn: duckdb.DuckDBPyConnection | None = None
        self.abandoned: list[Path] = []

    def open_next(self) -> None:
        self.sequence += 1
        self.path = self.owner.segment_path(self.sequence)
        self.conn = open_segment(self.path)
        self.rows = 0

    def write(self, batch: list[Delivery]) -> None:
        if self.conn is None:
            self.open_next()
        assert self.conn is not None
        columns = list(
            zip(
                *(
                    (
                        d.account,
                        d.content_hash,
                        d.received_at,
                        d.content_type,
                        d.body,
                        d.outcome,
                        d.reason,
                    )
                    for d in batch
                ),
                strict=True,
            )
        )
        table = pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, ARROW_SCHEMA, strict=True)],
            schema=ARROW_SCHEMA,
        )
        try:
            self.conn.from_arrow(table).insert_into(TABLE)  # one statement, one commit
        except duckdb.Error:
            self._abandon()
            raise
        self.rows += len(batch)

    def _abandon(self) -> None:
        """After a failed commit start a fresh segment; the old one (which may hold earlier,
        acknowledged rows) is folded and sealed by the seal timer once the disk allows."""
        with contextlib.suppress(duckdb.Error):
            if self.conn is not None:
                self.conn.close()
        if self.path is not None:
            self.abandoned.append(self.path)
        self.conn = None
        self.path = None

    def seal_abandoned(self) -> None:
        for path in list(self.abandoned):
            if not path.exists():
                self.abandoned.remove(path)
                continue
            with contextlib.suppress(duckdb.Error, OSError):
                recover_segment(path, self.layout)
                self.abandoned.remove(path)

    def seal_if_nonempty(self) -> Path | None:
        self.seal_abandoned()
        if self.conn is None or self.rows == 0:
            return None
        assert self.path is not None
        self.conn.close()  # checkpoints: the sealed file carries no WAL
        self.conn = None
        sealed = seal(self.path, self.layout)
        self.open_next()
        return sealed

    def close(self) -> Path | None:
        if self.conn is None:
            return None
        assert self.path is not None
        self.conn.close()
        self.conn = None
        if self.rows:
            return seal(self.path, self.layout)
        self.path.unlink(missing_ok=True)
        return None


class LandingStore:
    def __init__(
        self, webhooks_dir: Path, seal_seconds: float, commit_interval_seconds: float = 0.005
    ) -> None:
        self.layout = Layout(webhooks_dir)
        self.seal_seconds = seal_seconds
        self.commit_interval = commit_interval_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-writer")
        self._pending: list[tuple[Delivery, asyncio.Future]] = []
        self._committed: set[tuple[str, str]] = set()
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._writer: _Writer | None = None
        self._owner: OwnerLock | None = None
        self._stopping = False
        self.last_error: str | None = None

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        self.layout.ensure()
        recovered = await self._run(recover_dead_owners, self.layout)
        if recovered:
            log.info("sealed %d segment(s) left by a stopped sidecar", len(recovered))
        self._owner = OwnerLock(self.layout, new_owner_id())
        self._writer = _Writer(self.layout, self._owner)
        await self._run(self._writer.open_next)
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name="landing-flush"),
            asyncio.create_task(self._seal_loop(), name="landing-seal"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        self._tasks[-1].cancel()  # the seal timer; the flusher drains what is pending first
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._writer is not None:
            await self._run(self._writer.close)
        if self._owner is not None:
            self._owner.release()
        self._executor.shutdown(wait=True)

    @property
    def healthy(self) -> bool:
        return self._writer is not None and not self._stopping and self.last_error is None

    async def land(self, delivery: Delivery) -> bool:
        """Return once the delivery is committed; True when it was already committed before."""
        key = (delivery.account, delivery.content_hash)
        if key in self._committed:
            return True
        if self._stopping:
            raise StoreUnavailable("the sidecar is shutting down")
        # One future per request (a concurrent retry is simply written twice and de-duplicated
        # by the pipeline), so a timed-out or disconnected request never affects another.
        future = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, future))
        self._wakeup.set()
        try:
            async with asyncio.timeout(COMMIT_TIMEOUT_SECONDS):
                await future
        except TimeoutError:
            raise StoreUnavailable("the landing store did not commit in time") from None
        return False

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_commit = 0.0
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            # Each DuckDB commit costs ~1.3 ms of CPU however few rows it has; committing at
            # most every `commit_interval` lets a batch fill up instead of spending a core on
            # tiny commits (measured: 41% of bare throughput without it).
            wait = last_commit + self.commit_interval - loop.time()
            if wait > 0 and not self._stopping:
                await asyncio.sleep(wait)
            batch, self._pending = self._pending, []
            if batch:
                last_commit = loop.time()
                await self._commit(batch)
            if self._stopping and not self._pending:
                return

    async def _commit(self, batch: list[tuple[Delivery, asyncio.Future]]) -> None:
        assert self._writer is not None
        try:
            await self._run(self._writer.write, [delivery for delivery, _ in batch])
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("landing commit of %d deliveries failed: %s", len(batch), self.last_error)
            for _, future in batch:
                if not future.done():
                    future.set_exception(StoreUnavailable("the landing store cannot commit"))
            return
        self.last_error = None
        if len(self._committed) > MAX_REMEMBERED_HASHES:
            self._committed.clear()  # only a shortcut; the pipeline de-duplicates anyway
        for delivery, future in batch:
            self._committed.add((delivery.account, delivery.content_hash))
            if not future.done():
                future.set_result(None)

    async def _seal_loop(self) -> None:
        assert self._writer is not None
        while not self._stopping:
            await asyncio.sleep(self.seal_seconds)
            if self._stopping:
                return
            try:
                sealed = await self._run(self._writer.seal_if_nonempty)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("sealing the landing segment failed: %s", self.last_error)
                continue
            if sealed is not None:
                log.debug("sealed %s", sealed.name)
