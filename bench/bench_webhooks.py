"""Webhook throughput: a bare FastAPI endpoint vs the durable endpoint, same machine, same run.

Load comes from `wrk` (Debian's package; installed here with apt-get when missing), 2 threads,
50 connections, a distinct body per request. Then the durable endpoint again at about
1,000 requests/s offered (each connection paced with wrk's `delay()`), for the p99 that a sender
sees at a realistic rate. Targets: durable >= 70% of bare; p99 < 100 ms at 1,000 req/s.

    .venv/bin/python bench/bench_webhooks.py [--seconds 5] [--rounds 3] [--connections 50]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LUA = r"""
local counter = 0
local thread_id = 0
local threads = {}
local pace_ms = tonumber(os.getenv("PACE_MS") or "0")

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
end

function delay()
  return pace_ms
end

request = function()
  counter = counter + 1
  local n = thread_id * 100000000 + counter
  local body = string.format(
    '{"type":"Order","customer":{"first_name":"Bench","email":"buyer%d@example.com"},' ..
    '"order":{"id":%d,"total":"47.00"},' ..
    '"product":{"id":55501,"name":"Launch Course","price":"47.00","quantity":1}}', n, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
end
"""
BARE_APP = """
from fastapi import FastAPI, Request, Response
app = FastAPI()

@app.post("/bare/{token}")
async def bare(token: str, request: Request) -> Response:
    await request.body()
    return Response(b'{"status": "ok"}', media_type="application/json")


class RawFirst:
    # The same plain-ASGI front the sidecar uses for its webhook route, answering 200 at once.
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/raw/"):
            return await self.app(scope, receive, send)
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        body = b'{"status": "ok"}'
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})


raw_first = RawFirst(app)
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk from Debian's packages ...", flush=True)
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(install, check=True, capture_output=True)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    sys.exit(f"server at {url} did not start")


def start(command: list[str], env: dict[str, str], ready_url: str, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_ready(ready_url, process)
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_wrk(wrk: str, url: str, script: Path, seconds: int, connections: int, pace_ms: int = 0):
    env = {**os.environ, "PACE_MS": str(pace_ms)}
    command = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    output = subprocess.run(
        [*command, url], env=env, capture_output=True, text=True, check=True
    ).stdout
    match = re.search(
        r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) errors=(\d+)", output
    )
    if match is None:
        sys.exit(f"could not read wrk output:\n{output}")
    requests, duration, p50, p99, errors = map(int, match.groups())
    if errors:
        status = httpx.post(url, content=b'{"type": "Order", "probe": 2}').status_code
        print(f"wrk: {errors} errors against {url.split('/')[3]}; a probe now gets {status}")
    return {
        "rps": requests / (duration / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "errors": errors,
        "requests": requests,
    }


def median_round(rounds: list[dict]) -> dict:
    """The round with the median throughput (its latencies come with it)."""
    return sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]


def describe(name: str, result: dict) -> str:
    return (
        f"{name:<34} {result['rps']:>9,.0f} req/s   p50 {result['p50_ms']:>7.2f} ms   "
        f"p99 {result['p99_ms']:>7.2f} ms   errors {result['errors']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rate", type=int, default=1000, help="offered req/s for the p99 run")
    args = parser.parse_args()
    wrk = ensure_wrk()

    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        tmp_path = Path(tmp)
        script = tmp_path / "post.lua"
        script.write_text(LUA)
        (tmp_path / "bare_app.py").write_text(BARE_APP)
        env = {**os.environ, "LTV_HOME": str(tmp_path / "home"), "PYTHONPATH": str(tmp_path)}

        bare_port = free_port()
        durable_port = free_port()
        while durable_port == bare_port:
            durable_port = free_port()
        bare = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:raw_first",
                "--port",
                str(bare_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env,
            f"http://127.0.0.1:{bare_port}/docs",
            tmp_path / "bare.log",
        )
        durable = start(
            [sys.executable, "-m", "ltv_webhook", "--port", str(durable_port)],
            env,
            f"http://127.0.0.1:{durable_port}/healthz",
            tmp_path / "durable.log",
        )
        try:
            from ltv_webhook.tokens import ensure_token

            token = ensure_token(tmp_path / "home" / "webhook_tokens.json", "default")
            url = f"http://127.0.0.1:{durable_port}/webhooks/samcart/{token}"
            bare_url = f"http://127.0.0.1:{bare_port}/bare/x"
            raw_url = f"http://127.0.0.1:{bare_port}/raw/x"
            sample = b'{"type": "Order", "probe": 1}'
            for probe in (bare_url, raw_url, url):
                status = httpx.post(probe, content=sample).status_code
                if status != 200:
                    sys.exit(f"{probe.split('/')[3]} answered {status} to a valid body")
            # Alternate short rounds, so a burst of other load on the machine hits all alike.
            bare_rounds, raw_rounds, durable_rounds = [], [], []
            for _ in range(args.rounds):
                bare_rounds.append(run_wrk(wrk, bare_url, script, args.seconds, args.connections))
                raw_rounds.append(run_wrk(wrk, raw_url, script, args.seconds, args.connections))
                durable_rounds.append(run_wrk(wrk, url, script, args.seconds, args.connections))
            pace_connections = 20
            paced = run_wrk(
                wrk,
                url,
                script,
                args.seconds * 2,
                pace_connections,
                pace_ms=round(pace_connections * 1000 / args.rate),
            )
        finally:
            stop(bare)
            stop(durable)
    bare_result = median_round(bare_rounds)
    raw_result = median_round(raw_rounds)
    durable_result = median_round(durable_rounds)
    for n, (b, r, d) in enumerate(zip(bare_rounds, raw_rounds, durable_rounds, strict=True), 1):
        print(
            f"round {n}: bare FastAPI {b['rps']:,.0f}, bare ASGI {r['rps']:,.0f}, "
            f"durable {d['rps']:,.0f} req/s"
        )

    ratio = durable_result["rps"] / bare_result["rps"]
    print(
        f"wrk 2 threads, {args.connections} connections, {args.rounds} alternating rounds of "
        f"{args.seconds} s, distinct bodies; medians:"
    )
    print(describe("(a) bare FastAPI 200", bare_result))
    print(describe("(a') bare 200, same ASGI front as (b)", raw_result))
    print(describe("(b) durable webhook (group commit)", durable_result))
    print(f"durable / bare FastAPI: {ratio:.0%} (target >= 70%)")
    print(
        f"durable / bare with the same ASGI front: {durable_result['rps'] / raw_result['rps']:.0%}"
        " (the cost of durability alone)"
    )
    print(describe(f"(b) at ~{args.rate} req/s offered", paced))
    print(f"p99 at ~{args.rate} req/s offered: {paced['p99_ms']:.2f} ms (target < 100 ms)")
    met = ratio >= 0.7 and paced["p99_ms"] < 100
    print("targets met" if met else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
