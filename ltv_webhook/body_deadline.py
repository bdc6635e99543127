"""A time limit on receiving a request body: one sweep for all requests, not a timer each.

Without it a sender that trickles its body (49 bytes at one byte a second) holds its request
open as long as it likes. An `asyncio.timeout` per request costs a timer on the event loop for
every delivery, the hot path benchmarked at ~9k requests/s; here a request only writes its
deadline into a dict, and one sweep every `seconds / 4` (at most 1 s) cancels the reads that
are past theirs. A late body therefore gets its 408 between `seconds` and `seconds` + a sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
MAX_SWEEP_SECONDS = 1.0
MIN_SWEEP_SECONDS = 0.05


class BodyTimeout(Exception):
    """The body was not received in time (HTTP 408)."""


class BodyDeadlines:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._deadlines: dict[asyncio.Task, float] = {}
        self._expired: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="body-deadlines")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def read(self, reading: Awaitable[T]) -> T:
        """`reading`'s result, or BodyTimeout once it has taken longer than `seconds`."""
        task = asyncio.current_task()
        assert task is not None
        self._deadlines[task] = asyncio.get_running_loop().time() + self.seconds
        try:
            return await reading
        except asyncio.CancelledError:
            # The sweep only cancels a task while its deadline is in the dict, i.e. while it
            # waits inside `reading`: the cancellation always arrives here, never later.
            if task not in self._expired:
                raise  # a cancellation of someone else's (a shutdown): not ours to swallow
            task.uncancel()
            raise BodyTimeout(
                f"the body was not received within {self.seconds:g} seconds"
            ) from None
        finally:
            del self._deadlines[task]
            self._expired.discard(task)

    async def _sweep_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = min(max(self.seconds / 4, MIN_SWEEP_SECONDS), MAX_SWEEP_SECONDS)
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            late = [t for t, deadline in self._deadlines.items() if deadline <= now]
            for task in late:
                if task not in self._expired:
                    self._expired.add(task)
                    task.cancel()
