"""The FastAPI routes take their settings through the `app_settings` dependency, so a test can
swap them; the store and tokens stay those the app was created with (its lifespan)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ltv_core.settings import Settings
from ltv_core.webhook_tokens import ensure_token
from ltv_webhook.app import app_settings, create_app
from tests.webhooks.sidecar import event_body


def test_the_route_uses_the_settings_the_dependency_gives(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, webhook_max_body_bytes=2048)
    token = ensure_token(settings.webhook_tokens_path, "default")
    body = event_body(1)
    assert 16 < len(body) <= 2048
    app = create_app(settings)
    app.dependency_overrides[app_settings] = lambda: settings.model_copy(
        update={"webhook_max_body_bytes": 16}
    )
    with TestClient(app) as client:
        url = f"/webhooks/samcart/{token}"
        assert client.post(url, content=body).status_code == 413
        app.dependency_overrides.clear()
        assert client.post(url, content=body).json()["status"] == "accepted"
