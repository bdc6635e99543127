"""Run overhead: what taking in one webhook delivery costs under the Dagster daemon (as `make run`
does it) against `ltv materialize` doing the same pending work in one process.

A demo business (`ltv demo`'s, 300 customers by default) is imported and built once into a base
home. Each round copies it twice and lands the same deliveries in both through a real sidecar:
- daemon leg: a real `dagster-daemon` over the pipeline's definitions, already idle when the
  deliveries land; it is watched until published_reports is rebuilt and no run is in flight.
- materialize leg: `ltv materialize`, timed as a whole command (start-up included).
The legs alternate their order from round to round (the machine is shared; compare ratios).

For every daemon run it prints, from the run's event log: queued (RUN_ENQUEUED -> RUN_STARTING,
the coordinator), launch (RUN_STARTING -> RUN_START: the run worker process and its definitions),
each step (STEP_START -> STEP_SUCCESS) and the gaps between them (a step process per step under
the multiprocess executor), and end (last step -> RUN_SUCCESS).

    .venv/bin/python bench/bench_run_overhead.py [--customers 300] [--deliveries 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from ltv_core.formats.profiles import load_catalog
from ltv_core.settings import DEFAULT_ACCOUNT, Settings
from ltv_core.webhook_segments import Layout
from ltv_core.webhook_tokens import ensure_token
from ltv_pipeline.demo.business import build_business
from ltv_pipeline.demo.exports import demo_exports
from ltv_pipeline.demo.webhooks import demo_deliveries

BIN = Path(sys.executable).parent
PUBLISHED = AssetKey("published_reports")
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
SETTLE_TIMEOUT = 600.0


def home_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LTV_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "LTV_INBOX_SETTLE_SECONDS": "0",
        "LTV_WEBHOOK_SEAL_SECONDS": "1",
    }


def ltv(home: Path, *args: str) -> float:
    """Run an `ltv` command on `home`; its wall time, start-up included."""
    started = time.perf_counter()
    subprocess.run([str(BIN / "ltv"), *args], env=home_env(home), check=True, capture_output=True)
    return time.perf_counter() - started


def build_base(root: Path, customers: int) -> Path:
    home = root / "base"
    settings = Settings.from_env(home_env(home))
    settings.ensure_layout()
    files = demo_exports(build_business(customers, 7), load_catalog(settings.formats_config_path))
    exports = root / "exports"
    exports.mkdir()
    for name, data in files.items():
        (exports / name).write_bytes(data)
    ltv(home, "import", *[str(p) for p in sorted(exports.iterdir())])
    ltv(home, "materialize")
    return home


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def land_deliveries(home: Path, bodies: list[dict]) -> None:
    """Post `bodies` to a real sidecar on `home`, and stop it once they are sealed."""
    port = free_port()
    sidecar = subprocess.Popen(
        [sys.executable, "-m", "ltv_webhook", "--port", str(port)],
        env=home_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        token = ensure_token(home / "webhook_tokens.json", DEFAULT_ACCOUNT)
        url = f"http://127.0.0.1:{port}/webhooks/samcart/{token}"
        deadline = time.monotonic() + 60
        for body in bodies:
            while True:
                request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
                request.add_header("Content-Type", "application/json")
                try:
                    urllib.request.urlopen(request, timeout=10).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        layout = Layout(home / "webhooks")
        while not layout.sealed_segments():
            if time.monotonic() > deadline:
                raise TimeoutError("the sidecar sealed nothing")
            time.sleep(0.2)
    finally:
        sidecar.terminate()
        sidecar.wait(timeout=30)


@dataclass
class RunFigures:
    assets: str
    total: float  # RUN_ENQUEUED (or RUN_STARTING) -> RUN_SUCCESS
    queued: float
    launch: float
    steps: dict[str, float] = field(default_factory=dict)
    gaps: float = 0.0  # inside the run, outside any step
    end: float = 0.0
    status: str = ""
    enqueued_at: float = 0.0  # epoch seconds, to place the runs after the landing
    ended_at: float = 0.0

    @property
    def cost(self) -> float:
        """What the run costs once the coordinator has started it."""
        return self.total - self.queued


def run_figures(instance: DagsterInstance, run_id: str) -> RunFigures:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    first: dict[str, float] = {}
    step_start: dict[str, float] = {}
    steps: dict[str, float] = {}
    last_step_end = 0.0
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type.name
        first.setdefault(kind, entry.timestamp)
        if kind == DagsterEventType.STEP_START.name:
            step_start[event.step_key or "?"] = entry.timestamp
        elif kind in (DagsterEventType.STEP_SUCCESS.name, DagsterEventType.STEP_FAILURE.name):
            key = event.step_key or "?"
            steps[key] = entry.timestamp - step_start.get(key, entry.timestamp)
            last_step_end = max(last_step_end, entry.timestamp)
    ended = first.get("RUN_SUCCESS") or first.get("RUN_FAILURE") or last_step_end
    enqueued = first.get("RUN_ENQUEUED", first.get("RUN_STARTING", 0.0))
    starting = first.get("RUN_STARTING", enqueued)
    started = first.get("RUN_START", starting)
    selection = sorted(k.to_user_string() for k in run.asset_selection or [])
    partition = run.tags.get("dagster/partition")
    return RunFigures(
        assets=", ".join(selection) + (f" [{partition}]" if partition else ""),
        total=ended - enqueued,
        queued=starting - enqueued,
        launch=started - starting,
        steps=steps,
        gaps=(last_step_end - started) - sum(steps.values()) if steps else 0.0,
        end=ended - last_step_end if steps else 0.0,
        status=run.status.value,
        enqueued_at=enqueued,
        ended_at=ended,
    )


def published_storage_id(instance: DagsterInstance) -> int:
    records = instance.get_asset_records([PUBLISHED])
    return (records[0].asset_entry.last_materialization_storage_id or 0) if records else 0


def daemon_leg(home: Path, bodies: list[dict]) -> tuple[list[RunFigures], float]:
    """Runs the daemon launches for the deliveries, and the seconds from landed to published."""
    env = home_env(home)
    log = open(home / "daemon.log", "wb")  # noqa: SIM115
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-m", "ltv_pipeline.definitions"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with DagsterInstance.get() as instance:
            wait_idle(instance, daemon)
            before = {r.run_id for r in instance.get_runs()}
            published = published_storage_id(instance)
            land_deliveries(home, bodies)
            landed = time.monotonic()
            landed_at = time.time()
            deadline = landed + SETTLE_TIMEOUT
            while published_storage_id(instance) == published or instance.get_runs(
                RunsFilter(statuses=IN_FLIGHT)
            ):
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((home / "daemon.log").read_text()[-3000:])
                time.sleep(0.5)
            latency = time.monotonic() - landed
            time.sleep(12)  # one more automation tick: a run it would still ask for counts too
            while instance.get_runs(RunsFilter(statuses=IN_FLIGHT)):
                time.sleep(0.5)
            runs = [r for r in instance.get_runs() if r.run_id not in before]
            figures = [run_figures(instance, r.run_id) for r in reversed(runs)]
            for run in figures:
                run.enqueued_at -= landed_at
                run.ended_at -= landed_at
    finally:
        os.killpg(daemon.pid, 15)
        daemon.wait(timeout=60)
        log.close()
    return figures, latency


def wait_idle(instance: DagsterInstance, daemon: subprocess.Popen) -> None:
    """Until both sensors have ticked and whatever their first ticks asked for has finished."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    names = {"ltv_model_and_marts_automation", "webhook_sensor"}
    while True:
        if daemon.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the daemon did not settle")
        ticked = {
            state.name
            for state in instance.all_instigator_state()
            if state.name in names
            and instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        }
        if ticked == names and not instance.get_runs(RunsFilter(statuses=IN_FLIGHT)):
            return
        time.sleep(0.5)


def materialize_leg(home: Path, bodies: list[dict]) -> tuple[float, dict[str, float]]:
    land_deliveries(home, bodies)
    started = time.time()
    seconds = ltv(home, "materialize")
    steps: dict[str, float] = {}
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        records = instance.get_run_records(
            RunsFilter(created_after=dt.datetime.fromtimestamp(started, dt.UTC))
        )
        for record in records:
            steps.update(run_figures(instance, record.dagster_run.run_id).steps)
    print(f"  ltv materialize ran {len(records)} run(s) in its process")
    return seconds, steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--deliveries", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    bodies = demo_deliveries(build_business(args.customers, 7), args.deliveries, 7)
    with tempfile.TemporaryDirectory(prefix="ltv-bench-overhead-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        base = build_base(root, args.customers)
        print(
            f"base home built in {time.perf_counter() - started:.1f} s "
            f"({args.customers} customers); {len(bodies)} deliveries per round"
        )
        for n in range(args.rounds):
            legs = ["daemon", "materialize"] if n % 2 == 0 else ["materialize", "daemon"]
            for leg in legs:
                home = root / f"{leg}-{n}"
                shutil.copytree(base, home)
                if leg == "daemon":
                    figures, latency = daemon_leg(home, bodies)
                else:
                    wall, cli_steps = materialize_leg(home, bodies)
            report(n, figures, latency, wall, cli_steps)
    return 0


def report(
    n: int, figures: list[RunFigures], latency: float, wall: float, cli_steps: dict[str, float]
) -> None:
    print(f"\nround {n + 1}: daemon launched {len(figures)} run(s)")
    for run in figures:
        print(
            f"  {run.status:8} total {run.total:6.1f} s  queued {run.queued:5.1f}  "
            f"at +{run.enqueued_at:5.1f}..+{run.ended_at:5.1f}  launch {run.launch:5.1f}  "
            f"steps {sum(run.steps.values()):6.1f} "
            f"({len(run.steps)})  between steps {run.gaps:5.1f}  end {run.end:4.1f}  "
            f"{run.assets[:70]}"
        )
        for step, seconds in sorted(run.steps.items(), key=lambda s: -s[1])[:4]:
            print(f"      step {step:40} {seconds:6.2f} s (cli {cli_steps.get(step, 0):5.2f})")
    cost = sum(run.cost for run in figures)
    total = sum(run.total for run in figures)
    print(
        f"  daemon: runs cost {cost:.1f} s (started->end), {total:.1f} s with queueing; "
        f"landed->published {latency:.1f} s"
    )
    print(f"  ltv materialize: {wall:.1f} s (steps {sum(cli_steps.values()):.1f} s)")
    print(
        f"  ratio runs/materialize: {cost / wall:.2f} (with queueing {total / wall:.2f}); "
        f"target <= 1.5; runs <= 2: {'yes' if len(figures) <= 2 else 'NO'}"
    )


if __name__ == "__main__":
    sys.exit(main())
