"""Webhook throughput: a bare FastAPI endpoint vs the durable endpoint, same machine, same run.

Throughput comes from `wrk` (Debian's package; installed here with apt-get when missing),
2 threads, 50 connections. Every body is distinct across the whole benchmark: wrk's counter
starts again at 1 in each run, so each run gets its own run number inside the body; a body the
receiver has already stored would be answered from its memory without a write or an fdatasync.
After the load the receiver is stopped and its stored deliveries are counted: it must have stored
a new delivery for every one it acknowledged.

Then the latency a sender sees at a realistic rate: the durable endpoint at 1,000 requests/s
offered open-loop (`open_loop`, below): request i is sent at start + i/rate whatever the earlier
replies do, on a new connection when every open one is busy, and timed from that scheduled
moment (as wrk2 does; wrk2 is not in Debian and wrk's own `delay()` pacing is closed-loop: a slow
reply would lower the offered rate and hide itself).

A reply other than 2xx, or a failed connection, is an error: errors are not counted as
throughput, and any error fails the benchmark (exit 1). Targets: durable >= 70% of bare FastAPI;
p99 < 100 ms at 1,000 req/s offered; no errors.

    .venv/bin/python bench/bench_webhooks.py [--seconds 5] [--rounds 3] [--connections 50]
"""

from __future__ import annotations

import argparse
import asyncio
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
from urllib.parse import urlsplit

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
# One body per (run, n); the same %-format serves Python and wrk's Lua (string.format).
BODY_FORMAT = (
    '{"type":"Order","customer":{"first_name":"Bench","email":"buyer%d-%d@example.com"},'
    '"order":{"id":%d%09d,"total":"47.00"},'
    '"product":{"id":55501,"name":"Launch Course","price":"47.00","quantity":1}}'
)


def body(run: int, n: int) -> bytes:
    return (BODY_FORMAT % (run, n, run, n)).encode()


LUA = (
    r"""
local counter = 0
local thread_id = 0
local threads = {}
local run = tonumber(os.getenv("BENCH_RUN"))
local body_format = [["""
    + BODY_FORMAT
    + r"""]]

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
end

request = function()
  counter = counter + 1
  local n = thread_id * 100000000 + counter
  local body = string.format(body_format, run, n, run, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.status + summary.errors.timeout))
end
"""
)
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


def run_wrk(wrk: str, url: str, script: Path, seconds: int, connections: int, run: int) -> dict:
    """One wrk run with bodies of its own (`run`); only 2xx replies count as throughput."""
    env = {**os.environ, "BENCH_RUN": str(run)}
    command = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    output = subprocess.run(
        [*command, url], env=env, capture_output=True, text=True, check=True
    ).stdout
    match = re.search(
        r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) "
        r"status_errors=(\d+) errors=(\d+)",
        output,
    )
    if match is None:
        sys.exit(f"could not read wrk output:\n{output}")
    replies, duration, p50, p99, status_errors, errors = map(int, match.groups())
    acknowledged = replies - status_errors  # wrk counts a non-2xx reply as a request too
    if errors:
        status = httpx.post(url, content=b'{"type": "Order", "probe": 2}').status_code
        print(f"wrk: {errors} errors against {url.split('/')[3]}; a probe now gets {status}")
    return {
        "rps": acknowledged / (duration / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "errors": errors,
        "acknowledged": acknowledged,
    }


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool]:
    """One HTTP/1.1 request on an open connection: (status, connection still usable)."""
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("the connection closed before the reply")
    status = int(status_line.split(b" ", 2)[1])
    length, keep = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            keep = False
    await reader.readexactly(length)
    return status, keep


async def open_loop(
    url: str, rate: int, seconds: int, run: int, connections: int, timeout: float = 10.0
) -> dict:
    """Offer `rate` requests/s open-loop, as wrk2 does: request i is due at start + i/rate and is
    sent then whatever the replies do, on any free one of at most `connections` connections (or
    as soon as one frees up), and its latency runs from that due moment, so a stall shows in full
    however many requests it holds up. How far the sender itself fell behind its schedule is
    reported: on a busy machine it is part of the latency measured."""
    parts = urlsplit(url)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    loop = asyncio.get_running_loop()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    opened: list[asyncio.StreamWriter] = []
    latencies: list[float] = []
    errors: list[str] = []

    slots = asyncio.Semaphore(connections)

    async def one(n: int, due: float) -> None:
        data = body(run, n)
        request = head + b"%d\r\n\r\n" % len(data) + data
        try:
            async with asyncio.timeout(timeout), slots:
                if idle:
                    reader, writer = idle.pop()
                else:
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                    opened.append(writer)
                status, keep = await _exchange(reader, writer, request)
                if keep:
                    idle.append((reader, writer))
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            errors.append(type(exc).__name__)
            return
        if 200 <= status < 300:
            latencies.append(loop.time() - due)
        else:
            errors.append(f"HTTP {status}")

    total = rate * seconds
    tasks: list[asyncio.Task] = []
    started = loop.time()
    lag = 0.0
    for n in range(1, total + 1):
        due = started + n / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        lag = max(lag, loop.time() - due)
        tasks.append(asyncio.create_task(one(n, due)))
    sent_for = loop.time() - started
    await asyncio.gather(*tasks)
    for writer in opened:
        writer.close()
    latencies.sort()

    def percentile(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
        )

    return {
        "rps": len(latencies) / sent_for,
        "offered_rps": total / sent_for,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "acknowledged": len(latencies),
        "connections": len(opened),
        "sender_lag_ms": lag * 1000,
    }


def stored_deliveries(home: Path) -> set[str]:
    """Content hashes of every accepted delivery the stopped receiver left in its segments."""
    from ltv_core.webhook_segments import TABLE, Layout, recover_dead_owners

    layout = Layout(home / "webhooks")
    recover_dead_owners(layout)  # anything a stop could not seal
    hashes: set[str] = set()
    for segment in layout.sealed.glob("*.duckdb"):
        conn = duckdb.connect(str(segment), read_only=True)
        try:
            rows = conn.execute(
                f"SELECT content_hash FROM {TABLE} WHERE outcome = 'accepted'"
            ).fetchall()
        finally:
            conn.close()
        hashes.update(h for (h,) in rows)
    return hashes


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
    parser.add_argument(
        "--rate-connections", type=int, default=100, help="connections for the open-loop run"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()

    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        tmp_path = Path(tmp)
        home = tmp_path / "home"
        script = tmp_path / "post.lua"
        script.write_text(LUA)
        (tmp_path / "bare_app.py").write_text(BARE_APP)
        env = {**os.environ, "LTV_HOME": str(home), "PYTHONPATH": str(tmp_path)}

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
            from ltv_core.webhook_tokens import ensure_token

            token = ensure_token(home / "webhook_tokens.json", "default")
            url = f"http://127.0.0.1:{durable_port}/webhooks/samcart/{token}"
            bare_url = f"http://127.0.0.1:{bare_port}/bare/x"
            raw_url = f"http://127.0.0.1:{bare_port}/raw/x"
            probe = body(1, 0)
            for probe_url in (bare_url, raw_url, url):
                status = httpx.post(probe_url, content=probe).status_code
                if status != 200:
                    sys.exit(f"{probe_url.split('/')[3]} answered {status} to a valid body")
            # Alternate short rounds, so a burst of other load on the machine hits all alike.
            # Every wrk run posts bodies of its own run number (1 was the probe; a leading
            # digit, as the order id is the run number followed by n).
            bare_rounds, raw_rounds, durable_rounds = [], [], []
            runs = iter(range(2, 10_000))
            for _ in range(args.rounds):
                for rounds, target in (
                    (bare_rounds, bare_url),
                    (raw_rounds, raw_url),
                    (durable_rounds, url),
                ):
                    rounds.append(
                        run_wrk(wrk, target, script, args.seconds, args.connections, next(runs))
                    )
            paced = asyncio.run(
                open_loop(url, args.rate, args.seconds * 2, next(runs), args.rate_connections)
            )
        finally:
            stop(bare)
            stop(durable)
        stored = stored_deliveries(home)
    acknowledged = 1 + sum(r["acknowledged"] for r in durable_rounds) + paced["acknowledged"]
    # wrk stops with requests in flight: the receiver may store those without wrk counting
    # their reply (at most one per connection and round), and a request that failed on the
    # sender's side (a time-out) may have been stored all the same. Fewer stored than
    # acknowledged means a body the receiver had stored before, or a lost delivery.
    unanswered_bound = args.connections * args.rounds + paced["errors"]
    stored_ok = acknowledged <= len(stored) <= acknowledged + unanswered_bound

    bare_result = median_round(bare_rounds)
    raw_result = median_round(raw_rounds)
    durable_result = median_round(durable_rounds)
    for n, (b, r, d) in enumerate(zip(bare_rounds, raw_rounds, durable_rounds, strict=True), 1):
        print(
            f"round {n}: bare FastAPI {b['rps']:,.0f}, bare ASGI {r['rps']:,.0f}, "
            f"durable {d['rps']:,.0f} req/s (2xx replies only)"
        )

    ratio = durable_result["rps"] / bare_result["rps"]
    print(
        f"wrk 2 threads, {args.connections} connections, {args.rounds} alternating rounds of "
        f"{args.seconds} s, bodies distinct across all runs; medians:"
    )
    print(describe("(a) bare FastAPI 200", bare_result))
    print(describe("(a') bare 200, same ASGI front as (b)", raw_result))
    print(describe("(b) durable webhook (group commit)", durable_result))
    print(f"durable / bare FastAPI: {ratio:.0%} (target >= 70%)")
    print(
        f"durable / bare with the same ASGI front: {durable_result['rps'] / raw_result['rps']:.0%}"
        " (the cost of durability alone)"
    )
    print(
        f"receiver stored {len(stored):,} new deliveries for {acknowledged:,} acknowledged: "
        f"{len(stored) - acknowledged:+,} (from 0 to +{unanswered_bound:,} expected: replies wrk "
        "did not wait for when a round ended, requests that failed on the sender's side)"
        + ("" if stored_ok else "  <-- MISMATCH (a body stored before, or one lost)")
    )
    print(describe(f"(b) open-loop {args.rate} req/s offered", paced))
    print(
        f"    offered {paced['offered_rps']:,.0f} req/s for {args.seconds * 2} s on "
        f"{paced['connections']} connections (at most {args.rate_connections}); sender at most "
        f"{paced['sender_lag_ms']:.1f} ms "
        f"behind its schedule; errors: {', '.join(paced['error_kinds']) or 'none'}"
    )
    print(f"p99 at {args.rate} req/s offered: {paced['p99_ms']:.2f} ms (target < 100 ms)")
    errors = sum(r["errors"] for r in bare_rounds + raw_rounds + durable_rounds) + paced["errors"]
    if errors or not stored_ok:
        print(f"FAILED: {errors} errors; stored matches acknowledged: {stored_ok}")
        return 1
    met = ratio >= 0.7 and paced["p99_ms"] < 100
    print("targets met" if met else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
