"""Which process runs an in-process Dagster run, and failing the runs whose process is gone.

`ltv import` and `ltv materialize` execute their runs inside their own process, not through the
daemon's run launcher. If that process is killed (SIGKILL, OOM, a power cut) the run stays
STARTED for ever, and with one run at a time the daemon queues every later run behind it.
Dagster's own run monitoring cannot help: it asks the run launcher whether a run's worker is
alive, the default launcher cannot say, and these runs never went through a launcher anyway.

So each such process holds an exclusive lock on a file of its own, named in its runs' tags, for
as long as it lives. The kernel drops the lock when the process dies, however it dies, so a lock
that anyone can take means the process is gone; unlike a pid, a lock is never inherited by an
unrelated process that happens to reuse the number.

Runs the daemon launched carry no owner tags: with Dagster's default run launcher their worker is
a process on this machine whose pid Dagster records in the event "Started process for run (pid:
N)". Run monitoring cannot ask that launcher whether the worker lives, so a power cut (the whole
`make run` process group killed) would leave such a run STARTED for ever. Here a pid stands in
for a lock: the worker is gone when no process has that pid, or when the process that has it
started after the event (the pid was reused, or the machine rebooted). A daemon run without that
event has no worker yet; Dagster's run monitoring start timeout, if enabled, deals with it.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.launcher import DefaultRunLauncher

OWNER_TAG = "ltv/owner"
OWNER_PID_TAG = "ltv/owner_pid"
OWNER_HOST_TAG = "ltv/owner_host"
LOCK_SUFFIX = ".lock"
WORKER_STARTED_PREFIX = "Started process for run (pid: "
# The start time computed from /proc is exact to the clock tick, but /proc/stat's boot time is
# whole seconds and moves when the wall clock is adjusted: a process that started this much after
# the event is another one.
START_TIME_SLACK_SECONDS = 5.0
# Every status of a run that has not finished: a process killed before its run reached STARTED
# leaves NOT_STARTED or STARTING behind.
UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


@dataclass(frozen=True)
class _HeldLock:
    token: str
    path: Path
    fd: int


# By folder: a process (a test session) may run in one LTV_HOME, then in another.
_held: dict[Path, _HeldLock] = {}


def _take_lock(locks_dir: Path) -> _HeldLock:
    """The lock is taken on a file under a temporary name and then renamed into place, so a
    lock file that can be seen is always already locked (a sweep never removes a live one)."""
    locks_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    taking = locks_dir / f".{token}.taking"
    fd = os.open(taking, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    path = locks_dir / f"{token}{LOCK_SUFFIX}"
    os.rename(taking, path)
    atexit.register(_release, path, fd)
    return _HeldLock(token, path, fd)


def _release(path: Path, fd: int) -> None:
    path.unlink(missing_ok=True)
    os.close(fd)


def owner_tags(locks_dir: Path) -> dict[str, str]:
    """Tags naming this process as the owner of a run it executes in-process."""
    held = _held.get(locks_dir)
    if held is None:
        held = _held[locks_dir] = _take_lock(locks_dir)
    return {
        OWNER_TAG: held.token,
        OWNER_PID_TAG: str(os.getpid()),
        OWNER_HOST_TAG: socket.gethostname(),
    }


def _take_if_free(path: Path) -> int | None:
    """An open, locked descriptor of `path` if its owner is gone; None if it is alive or the
    file is missing."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _owner_is_gone(locks_dir: Path, token: str) -> bool:
    """A missing file is gone too: its owner exited (and removed it) with the run unfinished."""
    path = locks_dir / f"{token}{LOCK_SUFFIX}"
    if not path.exists():
        return True
    fd = _take_if_free(path)
    if fd is None:
        return not path.exists()
    os.close(fd)
    return True


def _sweep(locks_dir: Path) -> None:
    """Remove the lock files of owners that are gone, once their runs have been dealt with."""
    if not locks_dir.is_dir():
        return
    for path in locks_dir.glob(f"*{LOCK_SUFFIX}"):
        fd = _take_if_free(path)
        if fd is not None:
            path.unlink(missing_ok=True)
            os.close(fd)


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime line")


def process_started_at(pid: int) -> float | None:
    """When the process with this pid started (seconds since the epoch), or None if there is no
    such process (a zombie, dead but not yet reaped, counts as none)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name, in parentheses, may hold spaces: the fields after it are split safely.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    start_ticks = int(fields[19])  # field 22 of proc(5); fields[0] is field 3
    return _boot_time() + start_ticks / os.sysconf("SC_CLK_TCK")


def worker_is_gone(pid: int, started_before: float) -> bool:
    """True if the process `pid`, which was running at `started_before`, no longer exists: no
    process has the pid, or the one that has it started later."""
    started_at = process_started_at(pid)
    return started_at is None or started_at > started_before + START_TIME_SLACK_SECONDS


def _worker_started(instance: DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid of a launched run's worker and when it was recorded, from its engine event."""
    for entry in reversed(instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)):
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith(WORKER_STARTED_PREFIX):
            continue
        pid = event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return int(pid.value), entry.timestamp
    return None


def _orphan_reason(
    instance: DagsterInstance, run: DagsterRun, locks_dir: Path, host: str, launched_here: bool
) -> str | None:
    """Why the run's process is gone, or None if it lives or the run is not ours to judge."""
    token = run.tags.get(OWNER_TAG)
    if token is None:
        if not launched_here:
            return None  # another launcher: Dagster's run monitoring can ask it
        worker = _worker_started(instance, run.run_id)
        if worker is None or not worker_is_gone(*worker):
            return None
        return f"its run worker process (pid {worker[0]}) is gone (killed, or a restart?)"
    if run.tags.get(OWNER_HOST_TAG) != host:
        return None  # owned by another machine
    if token in {held.token for held in _held.values()}:
        return None  # this very process
    if not _owner_is_gone(locks_dir, token):
        return None
    return f"process {run.tags.get(OWNER_PID_TAG, '?')} that ran it is gone (killed?)"


def fail_orphaned_runs(instance: DagsterInstance, locks_dir: Path) -> list[str]:
    """Mark FAILURE every unfinished run whose process (on this machine) is gone, so the run
    queue moves again; returns one line per run marked."""
    host = socket.gethostname()
    launched_here = isinstance(instance.run_launcher, DefaultRunLauncher)
    notices: list[str] = []
    for record in instance.get_run_records(RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        reason = _orphan_reason(instance, run, locks_dir, host, launched_here)
        if reason is None:
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status not in UNFINISHED:
            continue  # someone else marked it meanwhile
        instance.report_run_failed(current, f"Marked failed: {reason}.")
        notices.append(f"run {run.run_id} ({run.job_name}) was left unfinished: {reason}")
    _sweep(locks_dir)
    return notices
