"""`ltv run` (and `make run`): start the long-running processes and stop them together.

Each service runs in its own process group so that Ctrl-C or SIGTERM reaches every child
(`dagster dev` starts a webserver, a daemon and a code server of its own), and nothing is left
behind when we exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ltv_core.settings import DEFAULT_ACCOUNT, Settings
from ltv_core.webhook_tokens import notify_url

STOP_GRACE_SECONDS = 20
EVENTS_EVERY_SECONDS = 2.0
# What the terminal calls each service, and the file in LTV_HOME/logs/ that gets its output.
SERVICE_NAMES = {
    "dagster": "Dagster UI and daemon",
    "webhooks": "webhook receiver",
    "web": "upload and report pages",
}
LOG_FILES = {"dagster": "dagster.log", "webhooks": "webhook-receiver.log", "web": "pages.log"}


def service_command(module: str, host: str | None, port: int | None) -> list[str]:
    """The webhook receiver (`ltv_webhook`) or the pages (`ltv_web`) as a process of their own:
    they share nothing with the pipeline but ltv_core, and never load Dagster. `-P`: the folder
    the user started `ltv` from is not put first on sys.path, so a `json.py` lying there cannot
    replace a module of ours or of the standard library (the `ltv` script never had it)."""
    command = [sys.executable, "-P", "-m", module]
    if host is not None:
        command += ["--host", host]
    if port is not None:
        command += ["--port", str(port)]
    return command


def become_service(module: str, host: str | None, port: int | None) -> int:
    """`ltv serve-webhooks` / `ltv serve-web`: this process becomes the service (same pid, same
    environment and signals), so stopping it stops the service."""
    command = service_command(module, host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
    return 1  # not reached: execv replaces this process or raises


def service_commands(settings: Settings) -> dict[str, list[str]]:
    return {
        "dagster": [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-m",
            "ltv_pipeline.definitions",
            "-h",
            settings.dagster_host,
            "-p",
            str(settings.dagster_port),
            "--log-level",
            "info",
        ],
        # The same as `ltv serve-webhooks` and `ltv serve-web`: their own listeners.
        "webhooks": service_command("ltv_webhook", settings.webhook_host, settings.webhook_port),
        "web": service_command("ltv_web", settings.web_host, settings.web_port),
    }


def dagster_url(settings: Settings) -> str:
    return f"http://{settings.dagster_host}:{settings.dagster_port}"


def addresses(settings: Settings) -> list[str]:
    """The three addresses a user needs, in the order of their journey's steps."""
    pages = settings.web_url
    return [
        f"Dagster UI:               {dagster_url(settings)}",
        f"Upload and report pages:  {pages}/upload  and  {pages}/report",
        f"Webhook URL for SamCart:  {notify_url(settings, DEFAULT_ACCOUNT)}",
    ]


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    """Stop every service and say so, one line each; what they print while stopping goes to
    their log files, not to the terminal."""
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
            print(f"stopped the {SERVICE_NAMES[name]}", flush=True)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            print(f"stopped the {SERVICE_NAMES[name]} (killed: it did not stop in time)")


def _say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}  {line}", flush=True)


def _open_log(settings: Settings, name: str):
    log = open(settings.logs_dir / LOG_FILES[name], "a", buffering=1)  # noqa: SIM115
    log.write(f"\n--- ltv run started {time.strftime('%Y-%m-%d %H:%M:%S %z')} ---\n")
    return log


def run_services(settings: Settings) -> int:
    settings.export_dagster_env()
    processes: dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    from dagster import DagsterInstance

    from ltv_pipeline.cli.run_events import RunEvents

    # Opened (and its storage created) before Dagster starts, so the two never race to create it.
    events = RunEvents(DagsterInstance.get(), dagster_url(settings))
    for name, command in service_commands(settings).items():
        with _open_log(settings, name) as log:
            processes[name] = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    for line in addresses(settings):
        print(line, flush=True)
    if not settings.webhook_public_url:
        print(
            "  (local address: expose only /webhooks/samcart/ publicly, and set "
            "LTV_WEBHOOK_PUBLIC_URL to show the public one)",
            flush=True,
        )
    print(f"Or drop SamCart CSV exports in: {settings.inbox_dir}", flush=True)
    print(
        f"Logs of Dagster, the webhook receiver and the pages: {settings.logs_dir}/",
        flush=True,
    )
    print("Stop with Ctrl-C.", flush=True)
    exit_code = 0
    next_events = 0.0
    try:
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    log = settings.logs_dir / LOG_FILES[name]
                    _say(
                        f"the {SERVICE_NAMES[name]} exited with code {process.returncode} "
                        f"(see {log}); stopping"
                    )
                    exit_code = process.returncode or 1
                    stopping = True
            if not stopping and time.monotonic() >= next_events:
                next_events = time.monotonic() + EVENTS_EVERY_SECONDS
                try:
                    lines = events.new_lines()
                except Exception:
                    # Only the terminal's event lines depend on it (a busy run storage, say);
                    # the services run on and the next poll catches up.
                    lines = []
                for line in lines:
                    _say(line)
            time.sleep(0.5)
    finally:
        _stop(processes)
        events.instance.dispose()
    return exit_code
