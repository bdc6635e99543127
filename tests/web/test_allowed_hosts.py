"""The pages answer only their own host names (no DNS rebinding); the webhook listener, which
sits behind the user's proxy under a public name, answers any."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ltv_core.settings import Settings, SettingsError
from ltv_core.webhook_tokens import ensure_token
from tests.support import ORDERS_SAMPLE
from tests.web.services import Pages
from tests.webhooks.sidecar import Sidecar, event_body


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ltv_home")


@pytest.fixture(scope="module")
def pages(home: Path) -> Iterator[Pages]:
    process = Pages(home)
    yield process
    process.stop()


def test_another_host_name_gets_400_and_never_the_token(pages: Pages, home: Path) -> None:
    token = ensure_token(home / "webhook_tokens.json", "default")
    refused = pages.get("/settings", f"attacker.example:{pages.port}")
    assert refused.status_code == 400
    assert token not in refused.text
    for host in (f"127.0.0.1:{pages.port}", f"localhost:{pages.port}", f"[::1]:{pages.port}"):
        answered = pages.get("/settings", host)
        assert answered.status_code == 200, host
        assert token in answered.text


def test_an_upload_naming_another_host_is_refused_and_stores_nothing(
    pages: Pages, home: Path
) -> None:
    refused = httpx.post(
        f"{pages.base}/upload",
        files={"file": ("orders.csv", ORDERS_SAMPLE.read_bytes(), "text/csv")},
        data={"format": "detect"},
        headers={"Host": "attacker.example", "Origin": "http://attacker.example"},
        timeout=30,
    )
    assert refused.status_code == 400
    inbox = home / "inbox"
    assert not inbox.exists() or not [p for p in inbox.rglob("*") if p.is_file()]


def test_the_pages_answer_the_names_in_ltv_web_allowed_hosts(tmp_path: Path) -> None:
    pages = Pages(tmp_path / "home", {"LTV_WEB_ALLOWED_HOSTS": "ltv.example.lan"})
    try:
        assert pages.get("/upload", f"ltv.example.lan:{pages.port}").status_code == 200
        assert pages.get("/upload", f"127.0.0.1:{pages.port}").status_code == 400
    finally:
        pages.stop()


def test_the_webhook_listener_answers_any_host(tmp_path: Path) -> None:
    sidecar = Sidecar(tmp_path / "home")
    sidecar.start()
    try:
        answered = httpx.post(
            sidecar.url(),
            content=event_body(1),
            headers={"content-type": "application/json", "Host": "ltv.public.example"},
        )
    finally:
        sidecar.stop()
    assert answered.status_code == 200
    assert answered.json()["status"] == "accepted"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("localhost", "127.0.0.1", "[::1]")),
        ({"LTV_WEB_HOST": "0.0.0.0"}, ("localhost", "127.0.0.1", "[::1]")),
        ({"LTV_WEB_HOST": "Box.lan"}, ("localhost", "127.0.0.1", "[::1]", "box.lan")),
        ({"LTV_WEB_HOST": "fe80::1"}, ("localhost", "127.0.0.1", "[::1]", "[fe80::1]")),
        ({"LTV_WEB_ALLOWED_HOSTS": "a.lan, ::1,*.b.lan"}, ("a.lan", "[::1]", "*.b.lan")),
    ],
)
def test_the_allowed_names_default_to_loopback_and_the_bind_name(
    env: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert Settings.from_env(env).web_allowed_hosts == expected


@pytest.mark.parametrize(
    ("web_host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8686"),
        ("0.0.0.0", "http://127.0.0.1:8686"),
        ("Box.lan", "http://box.lan:8686"),
        ("::1", "http://[::1]:8686"),
    ],
)
def test_the_printed_address_is_one_the_pages_answer(web_host: str, url: str) -> None:
    settings = Settings.from_env({"LTV_WEB_HOST": web_host})
    assert settings.web_url == url
    assert url.removeprefix("http://").rsplit(":", 1)[0] in settings.web_allowed_hosts


@pytest.mark.parametrize("value", ["ltv.lan:8686", "http://ltv.lan", "[nope]", "a.*.lan"])
def test_an_unusable_allowed_host_is_a_precise_error(value: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"LTV_WEB_ALLOWED_HOSTS={value!r}: ")):
        Settings.from_env({"LTV_WEB_ALLOWED_HOSTS": value})
