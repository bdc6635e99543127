"""The sidecar's answers at the edges: tokens, size limit, bodies that are not events."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ltv_core.settings import Settings, SettingsError
from ltv_webhook.app import create_app
from tests.webhooks.sidecar import Sidecar, event_body, landed_deliveries, sha256

LIMIT = 4096
BODY_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    process = Sidecar(
        tmp_path_factory.mktemp("home"), max_body_bytes=LIMIT, body_timeout_seconds=BODY_TIMEOUT
    )
    process.start()
    yield process
    process.stop()


def landed_after_stop(sidecar: Sidecar) -> list[tuple[str, str, bytes]]:
    """(account, hash, body) of everything landed, read once a stop has sealed it all."""
    sidecar.stop()
    try:
        return landed_deliveries(sidecar.home)
    finally:
        sidecar.start()


def landed_hashes_after_stop(sidecar: Sidecar) -> list[str]:
    return [content_hash for _, content_hash, _ in landed_after_stop(sidecar)]


def landed_as(sidecar: Sidecar, body: bytes) -> list[tuple[str, bytes]]:
    """(account, stored body) of each landed copy of `body`."""
    return [(a, b) for a, h, b in landed_after_stop(sidecar) if h == sha256(body)]


def test_json_event_is_accepted_and_a_retry_is_a_duplicate(sidecar: Sidecar) -> None:
    body = event_body(1)
    first = httpx.post(sidecar.url(), content=body, headers={"content-type": "application/json"})
    again = httpx.post(sidecar.url(), content=body, headers={"content-type": "application/json"})
    assert first.status_code == 200 and again.status_code == 200
    assert first.json() == {"status": "accepted", "delivery": sha256(body), "duplicate": False}
    assert again.json()["duplicate"] is True
    assert landed_hashes_after_stop(sidecar).count(sha256(body)) == 1


def test_form_body_is_accepted(sidecar: Sidecar) -> None:
    response = httpx.post(
        sidecar.url(), data={"type": "Order", "customer[email]": "a@b.example", "order[id]": "7"}
    )
    assert response.status_code == 200, response.text
    sent = response.request.content
    assert response.json()["delivery"] == sha256(sent)
    assert landed_as(sidecar, sent) == [("default", sent)]


@pytest.mark.parametrize(
    ("path_of", "why"),
    [
        (lambda s: f"{s.base}/webhooks/samcart/{s.token()}x", "near-miss token"),
        (lambda s: f"{s.base}/webhooks/samcart/{s.token()[:-1]}", "truncated token"),
        (lambda s: f"{s.base}/webhooks/samcart/", "missing token"),
        (lambda s: f"{s.base}/webhooks/samcart/wrong-token", "wrong token"),
        (lambda s: f"{s.base}/webhooks/shopify/{s.token()}", "unknown platform"),
        (lambda s: f"{s.base}/webhooks/samcart%2F{s.token()}", "encoded slash before token"),
        (lambda s: f"{s.base}/webhooks%2Fsamcart/{s.token()}", "encoded slash in prefix"),
        (lambda s: f"{s.base}/webhooks/samcart/%2F{s.token()}", "encoded slash in token"),
        (lambda s: f"{s.base}/webhooks/samcart/{s.token()}/", "trailing slash"),
    ],
)
def test_bad_token_or_platform_is_404_and_writes_nothing(sidecar: Sidecar, path_of, why) -> None:
    body = event_body(hash(why) % 10_000 + 10_000)
    response = httpx.post(path_of(sidecar), content=body, headers={"host": "evil.example"})
    assert response.status_code == 404, why
    assert "location" not in response.headers  # no redirect echoing the token and Host
    assert sha256(body) not in landed_hashes_after_stop(sidecar)


def test_token_of_another_account_lands_under_that_account(sidecar: Sidecar) -> None:
    body = event_body(3)
    response = httpx.post(sidecar.url("second-store"), content=body)
    assert response.status_code == 200, response.text
    assert landed_as(sidecar, body) == [("second-store", body)]


def test_oversized_body_with_content_length_is_413(sidecar: Sidecar) -> None:
    body = b'{"type": "Order", "pad": "' + b"x" * LIMIT + b'"}'
    response = httpx.post(sidecar.url(), content=body)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_oversized_chunked_body_without_content_length_is_413(sidecar: Sidecar) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"type": "Order", "pad": "'
        for _ in range(10):
            yield b"x" * 1024
        yield b'"}'

    response = httpx.post(sidecar.url(), content=chunks())
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_small_chunked_body_is_accepted(sidecar: Sidecar) -> None:
    body = event_body(4)
    response = httpx.post(sidecar.url(), content=iter([body[:10], body[10:]]))
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 200, response.text
    assert landed_as(sidecar, body) == [("default", body)]


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "application/json", "empty"),
        (b"   ", None, "empty"),
        (b"not json at all", "text/plain", "not valid JSON"),
        (b'{"type": "Order"', "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "expected a JSON object"),
        (b'{"a": NaN}', "application/json", "NaN"),
        (b"\xff\xfe\x00garbage", "application/json", "not valid"),
        (b"a=1&a[b]=2", "application/x-www-form-urlencoded", "conflicts"),
        (b"a" + b"[b]" * 1000 + b"=1", "application/x-www-form-urlencoded", "nested 1001 levels"),
        (b"type=Order&x" + b"[y]" * 40 + b"=1", "application/x-www-form-urlencoded", "nested"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "application/json", "nested 40 levels"),
        (b'{"a":' + b"[" * 600 + b"]" * 600 + b"}", "application/json", "nested"),
        (b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}", "application/json", "nested"),
        # Lone surrogates, raw (not UTF-8) or escaped: the pipeline could not store them.
        (b'{"a":"\xed\xa0\x80"}', "application/json", "not valid UTF-8"),
        (b'{"a":"\\ud800"}', "application/json", "lone surrogate"),
        (b'{"\\udfff":1}', "application/json", "lone surrogate"),
        (b'{"a":"\\ude00\\ud83d"}', None, "lone surrogate"),
    ],
)
def test_unparseable_body_is_kept_as_dead_letter_with_400(
    sidecar: Sidecar, body: bytes, content_type: str | None, reason: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = httpx.post(sidecar.url(), content=body, headers=headers)
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert response.json()["stored"] is True
    assert sha256(body) in landed_hashes_after_stop(sidecar)


def test_escaped_surrogate_pairs_are_accepted(sidecar: Sidecar) -> None:
    body = event_body(7, extra={"note": "\U0001f600"}).replace(b"\\ud83d\\ude00", b"\\uD83D\\ude00")
    assert b"\\uD83D" in body
    response = httpx.post(sidecar.url(), content=body)
    assert response.status_code == 200, response.text


def test_body_nested_within_the_limit_is_accepted(sidecar: Sidecar) -> None:
    body = event_body(6, extra={"a": [[[[{"b": [1, 2, {"c": {}}]}]]]]})
    response = httpx.post(sidecar.url(), content=body)
    assert response.status_code == 200, response.text


def test_body_sent_too_slowly_is_408_before_it_ends_and_lands_nothing(sidecar: Sidecar) -> None:
    """49 bytes at one byte per 0.2 s would take ~10 s; the answer comes after BODY_TIMEOUT,
    while the sender is still sending (asserted by bytes sent, not by wall-clock time)."""
    body = b'{"type":"Order","customer":{"email":"s@b.examp"}}'
    assert len(body) == 49
    path = f"/webhooks/samcart/{sidecar.token()}"
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", sidecar.port)) as sock:
        sock.sendall(head.encode())
        while sent < len(body) and not select.select([sock], [], [], 0.2)[0]:
            try:
                sock.sendall(body[sent : sent + 1])
            except BrokenPipeError:
                break  # answered and closed between the select and the send
            sent += 1
        sock.settimeout(5)
        reply = b""
        while chunk := sock.recv(4096):  # to the end: the server closes after a 408
            reply += chunk
    assert reply.split(b" ", 2)[1] == b"408", reply
    assert b"body_timeout" in reply
    assert sent < len(body) // 2, f"answered only after {sent} of {len(body)} bytes"
    assert sha256(body) not in landed_hashes_after_stop(sidecar)


def test_bad_content_length_is_400(sidecar: Sidecar) -> None:
    with socket.create_connection(("127.0.0.1", sidecar.port)) as sock:
        path = f"/webhooks/samcart/{sidecar.token()}"
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n".encode())
        reply = sock.recv(1024)
    assert reply.split(b" ", 2)[1] in (b"400",)


def test_client_gone_mid_body_lands_nothing(sidecar: Sidecar) -> None:
    import time

    body = b"type=Order&customer%5Bemail%5D=half%40b.example&order%5Bid%5D=77&product%5Bid%5D=9"
    half = body[: len(body) // 2]  # still a valid form body on its own
    with socket.create_connection(("127.0.0.1", sidecar.port)) as sock:
        path = f"/webhooks/samcart/{sidecar.token()}"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        sock.sendall(head.encode() + half)
        time.sleep(0.3)  # the server has read the headers and the first half
    time.sleep(0.5)  # ... and has seen the disconnect
    landed = landed_hashes_after_stop(sidecar)
    assert sha256(half) not in landed and sha256(body) not in landed


def test_healthz_and_no_docs_on_the_exposed_listener(sidecar: Sidecar) -> None:
    health = httpx.get(f"{sidecar.base}/healthz")
    assert health.status_code == 200 and health.json()["store_writable"] is True
    for path in ("/docs", "/redoc", "/openapi.json", "/healthz/"):
        assert httpx.get(f"{sidecar.base}{path}").status_code == 404, path
    schema = create_app(Settings(home=sidecar.home)).openapi()
    assert set(schema["paths"]) == {"/webhooks/samcart/{token}", "/healthz"}


def test_no_token_email_or_body_in_logs(sidecar: Sidecar) -> None:
    marker = "Leaky.Person@Example.com"
    httpx.post(sidecar.url(), content=event_body(5, customer={"email": marker}))
    httpx.post(sidecar.url(), content=b"secret body text " + marker.encode())
    httpx.post(f"{sidecar.base}/webhooks/samcart/not-the-token", content=b"{}")
    sidecar.stop()
    logs = "\n".join(p.read_text() for p in Path(sidecar.home).glob("sidecar-*.log"))
    sidecar.start()
    assert marker.lower() not in logs.lower()
    assert "secret body text" not in logs
    assert sidecar.token() not in logs


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_body_timeout_setting_must_be_a_positive_number(value: str) -> None:
    assert Settings.from_env({}).webhook_body_timeout_seconds == 10.0
    with pytest.raises(SettingsError, match="LTV_WEBHOOK_BODY_TIMEOUT_SECONDS"):
        Settings.from_env({"LTV_WEBHOOK_BODY_TIMEOUT_SECONDS": value})


def test_a_corrupt_or_missing_token_file_keeps_the_tokens_read_before(tmp_path: Path) -> None:
    sidecar = Sidecar(tmp_path / "home")
    url = sidecar.url()  # creates the token file
    tokens_file = sidecar.home / "webhook_tokens.json"
    wrong = f"{sidecar.base}/webhooks/samcart/wrong-token"
    good = tokens_file.read_text()
    sidecar.start()
    try:
        tokens_file.write_text('{"default": ')  # a hand edit gone wrong
        assert httpx.post(wrong, content=event_body(31)).status_code == 404
        assert httpx.post(url, content=event_body(32)).status_code == 200
        tokens_file.unlink()
        assert httpx.post(wrong, content=event_body(33)).status_code == 404
        assert httpx.post(url, content=event_body(34)).status_code == 200
        tokens_file.write_text(good)
        other = sidecar.url("other")  # a good file again: read at the next unknown token
        assert httpx.post(other, content=event_body(35)).status_code == 200
        assert httpx.post(url, content=event_body(36)).status_code == 200
    finally:
        sidecar.stop()
    log = (sidecar.home / f"sidecar-{sidecar.port}.log").read_text()
    assert "cannot read webhook tokens" in log and "is missing; keeping the 1 webhook" in log
    assert "Traceback" not in log
