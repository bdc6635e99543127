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
        ],
        # The same as `ltv serve-webhooks` and `ltv serve-web`: their own listeners.
        "webhooks": service_command("ltv_webhook", settings.webhook_host, settings.webhook_port),
        "web": service_command("ltv_web", settings.web_host, settings.web_port),
    }


def addresses(settings: Settings) -> list[str]:
    """The three addresses a user needs, in the order of their journey's steps."""
    pages = settings.web_url
    return [
        f"Dagster UI:               http://{settings.dagster_host}:{settings.dagster_port}",
        f"Upload and report pages:  {pages}/upload  and  {pages}/report",
        f"Webhook URL for SamCart:  {notify_url(settings, DEFAULT_ACCOUNT)}",
    ]


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_services(settings: Settings) -> int:
    settings.export_dagster_env()
    processes: dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    for name, command in service_commands(settings).items():
        processes[name] = subprocess.Popen(command, start_new_session=True)
    for line in addresses(settings):
        print(line, flush=True)
    if not settings.webhook_public_url:
        print(
            "  (local address: expose only /webhooks/samcart/ publicly, and set "
            "LTV_WEBHOOK_PUBLIC_URL to show the public one)",
            flush=True,
        )
    print(f"Or drop SamCart CSV exports in: {settings.inbox_dir}", flush=True)
    print("Stop with Ctrl-C.", flush=True)
    exit_code = 0
    try:
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping", flush=True)
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
    finally:
        _stop(processes)
    return exit_code
