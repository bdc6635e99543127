"""The pages take their settings through the `app_settings` dependency, so a test can swap them."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ltv_core.settings import DEFAULT_ACCOUNT, Settings
from ltv_core.webhook_tokens import ensure_token
from ltv_web.app import app_settings, create_app
from tests.support import LOCAL_PAGES_URL


def test_the_pages_use_the_settings_the_dependency_gives(ltv_home: Settings, tmp_path: Path):
    other = Settings(
        home=tmp_path / "other",
        webhook_public_url="https://hooks.example.test",
        web_max_upload_bytes=3 * 1024 * 1024,
    )
    other.ensure_layout()
    app = create_app(ltv_home)
    app.dependency_overrides[app_settings] = lambda: other
    client = TestClient(app, base_url=LOCAL_PAGES_URL)

    token = ensure_token(other.webhook_tokens_path, DEFAULT_ACCOUNT)
    html = client.get("/settings").text
    assert f'value="https://hooks.example.test/webhooks/samcart/{token}"' in html

    assert "at most 3 MiB." in client.get("/upload").text
