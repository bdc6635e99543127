"""`ltv run` as a user starts it, on free ports, with its output collected and every process
it started (at any depth) known, so a test can prove that none outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import httpx

from tests.support import free_port, stop_process_group


def _stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, ..., start time)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


Process = tuple[int, str]  # (pid, start time): a pid alone may be reused by another process


def descendants(pid: int) -> set[Process]:
    """Every process below `pid`, from /proc (children started in new sessions included)."""
    parents: dict[Process, int] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields:
            parents[(int(entry.name), fields[19])] = int(fields[1])
    found: set[Process] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in found]
        found.update(children)
        frontier += [p[0] for p in children]
    return found


def alive(process: Process) -> bool:
    fields = _stat(process[0])
    return fields is not None and fields[19] == process[1] and fields[0] != "Z"


class LtvRun:
    """A running `ltv run`; stop() sends SIGTERM, as Ctrl-C or a service manager would."""

    def __init__(self, env: dict[str, str]) -> None:
        self.web_port = int(env["LTV_WEB_PORT"])
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ltv_pipeline.cli.main", "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.seen: set[Process] = set()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def wait_until(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "ltv run exited early:\n" + self.output()
            self.seen |= descendants(self.process.pid)
            if condition():
                return
            time.sleep(0.5)
        raise AssertionError(f"{what} did not happen within {timeout:.0f} s\n{self.output()}")

    def web_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def stop(self) -> int:
        self.seen |= descendants(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            for pid, _ in self.seen:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            raise

    def survivors(self) -> list[Process]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = [p for p in self.seen if alive(p)]
            if not left:
                return []
            time.sleep(0.2)
        return left


PAGES_STARTUP_SECONDS = 60


class Pages:
    """`python -m ltv_web` (what `ltv run` starts) on a loopback port of its own."""

    def __init__(self, home: Path, env_extra: dict[str, str] | None = None) -> None:
        self.port = free_port()
        env = {**os.environ, "LTV_HOME": str(home), **(env_extra or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ltv_web", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + PAGES_STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the pages exited at start"
            try:
                httpx.get(f"{self.base}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("the pages did not start in time")

    def get(self, path: str, host: str) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", headers={"Host": host}, timeout=30)

    def stop(self) -> None:
        stop_process_group(self.process)
