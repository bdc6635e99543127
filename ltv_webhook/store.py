"""The landing store: group commit into the sidecar's own log, one writer thread.

Requests hand their delivery to the event loop's pending list and wait on a future. A flusher
takes everything pending as one batch, and the writer thread (the only one that touches the
file) appends the batch's frames and fdatasyncs once; then every request in the batch is
answered at once: one thread hop per batch, not per request. A 2xx therefore always follows a
durable write. Every `seal_seconds` a non-empty log is rotated and a second thread turns it into
a sealed DuckDB segment for the pipeline (segments.py); no DuckDB connection is shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ltv_core.landing_log import encode
from ltv_core.webhook_segments import (
    Layout,
    OwnerLock,
    fsync_dir,
    new_owner_id,
    recover_dead_owners,
    seal_log,
)

log = logging.getLogger("ltv_webhook.store")

COMMIT_TIMEOUT_SECONDS = 10.0
MAX_REMEMBERED_HASHES = 200_000  # about 40 MB of (account, hash) keys


class StoreUnavailable(RuntimeError):
    """The delivery could not be committed; the sender must retry (HTTP 503)."""


class WriteFailed(OSError):
    """A batch could not be made durable; `abandoned` is the log to seal later."""

    def __init__(self, cause: OSError, abandoned: Path | None) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.abandoned = abandoned


@dataclass(frozen=True)
class Delivery:
    account: str
    content_hash: str
    received_at: dt.datetime  # naive UTC
    content_type: str | None
    body: bytes
    outcome: str  # "accepted" or "dead_letter"
    reason: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a delivery already committed: the same body landed with the same outcome."""
        return (self.account, self.content_hash, self.outcome)

    def record(self) -> bytes:
        """This delivery as one framed record of the landing log."""
        return encode(
            self.account,
            self.content_hash,
            self.received_at,
            self.content_type,
            self.body,
            self.outcome,
            self.reason,
        )


class _Writer:
    """Everything that touches the active log; called only on the writer thread."""

    def __init__(self, layout: Layout, owner: OwnerLock) -> None:
        self.layout = layout
        self.owner = owner
        self.sequence = 0
        self.rows = 0
        self.path: Path | None = None
        self.fd: int | None = None

    def open_next(self) -> None:
        self.sequence += 1
        self.path = self.owner.log_path(self.sequence)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_dir(self.layout.active)
        self.rows = 0

    def write(self, batch: list[Delivery]) -> None:
        if self.fd is None:
            self.open_next()
        assert self.fd is not None
        data = memoryview(b"".join(d.record() for d in batch))
        try:
            while data:
                data = data[os.write(self.fd, data) :]
            os.fdatasync(self.fd)
        except OSError as exc:
            raise WriteFailed(exc, self._abandon()) from exc
        self.rows += len(batch)

    def _abandon(self) -> Path | None:
        """After a failed write start a new log: the old one may end in a torn frame, and its
        earlier, acknowledged frames are sealed by the seal timer."""
        old = self.path
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = None
        self.path = None
        return old

    def rotate(self) -> Path | None:
        """Close a non-empty log and start the next; returns the closed one for sealing."""
        if self.fd is None or self.rows == 0:
            return None
        old = self.path
        os.close(self.fd)
        self.fd = None
        self.path = None
        try:
            self.open_next()
        except OSError as exc:
            raise WriteFailed(exc, old) from exc  # the closed log is still sealed
        return old

    def close(self) -> Path | None:
        if self.fd is None:
            return None
        os.close(self.fd)
        self.fd = None
        return self.path


class LandingStore:
    def __init__(
        self, webhooks_dir: Path, seal_seconds: float, commit_interval_seconds: float = 0.005
    ) -> None:
        self.layout = Layout(webhooks_dir)
        self.seal_seconds = seal_seconds
        self.commit_interval = commit_interval_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-writer")
        self._sealer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-sealer")
        self._to_seal: list[Path] = []
        self._pending: list[tuple[Delivery, asyncio.Future]] = []
        # (account, hash, outcome): a dead letter is no copy of the same bytes accepted later
        # under a content type that reads, so that retry is written, not answered "duplicate".
        self._committed: set[tuple[str, str, str]] = set()
        self._wakeup = asyncio.Event()
        self._stop_sealing = asyncio.Event()
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
            log.info("sealed %d segment(s) left by a stopped webhook receiver", len(recovered))
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
        # The seal timer stops between rounds, never inside one: cancelled while rotating, it
        # lost the rotated log, left unsealed until the next start. The flusher drains first.
        self._stop_sealing.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._writer is not None:
            closed = await self._run(self._writer.close)
            if closed is not None:
                self._to_seal.append(closed)
        await self._seal_waiting()
        if self._owner is not None:
            # Anything left unsealed (a full disk) is sealed by whoever starts next.
            self._owner.release()
        self._executor.shutdown(wait=True)
        self._sealer.shutdown(wait=True)

    @property
    def healthy(self) -> bool:
        return self._writer is not None and not self._stopping and self.last_error is None

    async def land(self, delivery: Delivery) -> bool:
        """Return once the delivery is committed; True when it was already committed before."""
        if delivery.key in self._committed:
            return True
        if self._stopping:
            raise StoreUnavailable("the webhook receiver is shutting down")
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
            # Committing at most every `commit_interval` lets a batch fill up: one fdatasync
            # for many requests instead of one each.
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
            if isinstance(exc, WriteFailed) and exc.abandoned is not None:
                self._to_seal.append(exc.abandoned)
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
            self._committed.add(delivery.key)
            if not future.done():
                future.set_result(None)

    async def _seal_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        for path in list(self._to_seal):
            try:
                await loop.run_in_executor(self._sealer, seal_log, path, self.layout)
            except Exception as exc:
                log.error(
                    "sealing %s failed (will retry): %s: %s", path.name, type(exc).__name__, exc
                )
                continue
            self._to_seal.remove(path)

    async def _seal_loop(self) -> None:
        assert self._writer is not None
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_sealing.wait(), self.seal_seconds)
            if self._stopping:
                return
            try:
                rotated = await self._run(self._writer.rotate)
            except OSError as exc:
                if isinstance(exc, WriteFailed) and exc.abandoned is not None:
                    self._to_seal.append(exc.abandoned)
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("rotating the landing log failed: %s", self.last_error)
                await self._seal_waiting()
                continue
            if rotated is not None:
                self._to_seal.append(rotated)
            await self._seal_waiting()
