"""The FastAPI route (documented in OpenAPI) answers exactly like the ASGI fast path uvicorn
serves: both call handler.handle_delivery. TestClient runs the app's real lifespan and store."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ltv_core.settings import Settings
from ltv_core.webhook_tokens import ensure_token
from ltv_webhook.app import create_app
from tests.webhooks.sidecar import event_body, landed_hashes, sha256


def test_fastapi_route_lands_and_answers(tmp_path: Path) -> None:
    settings = Settings.from_env({"LTV_HOME": str(tmp_path), "LTV_WEBHOOK_MAX_BODY_BYTES": "2048"})
    token = ensure_token(settings.webhook_tokens_path, "default")
    body = event_body(1)
    with TestClient(create_app(settings)) as client:
        url = f"/webhooks/samcart/{token}"
        assert client.post(url, content=body).json()["duplicate"] is False
        assert client.post(url, content=body).json()["duplicate"] is True
        assert client.post(f"/webhooks/samcart/{token}x", content=body).status_code == 404
        assert client.post(f"/webhooks/samcart%2F{token}", content=body).status_code == 404
        assert client.post(url, content=b"x" * 4096).status_code == 413
        dead = client.post(url, content=b"nope", headers={"content-type": "text/plain"})
        assert dead.status_code == 400 and dead.json()["stored"] is True
        assert client.get("/healthz").json() == {
            "status": "ok",
            "store_writable": True,
            "detail": None,
        }
    assert sorted(landed_hashes(tmp_path)) == sorted([sha256(body), sha256(b"nope")])
