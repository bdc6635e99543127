"""`ltv demo`: a realistic synthetic SamCart business, so a newcomer sees numbers at once.

It drops the three history exports into the inbox (the pipeline picks them up like any upload)
and posts today's webhook deliveries to the running sidecar, on the loopback address only.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

from ltv_core.atomic_files import write_atomically
from ltv_core.formats.profiles import load_catalog
from ltv_core.settings import DEFAULT_ACCOUNT, Settings
from ltv_pipeline.demo.business import build_business
from ltv_pipeline.demo.exports import demo_exports
from ltv_pipeline.demo.webhooks import demo_deliveries

SIDECAR_WAIT_SECONDS = 30


def drop_in_inbox(settings: Settings, files: dict[str, bytes]) -> None:
    """Each file is written under a hidden name first, so the sensor never sees half a file."""
    for name, data in files.items():
        write_atomically(settings.inbox_dir / name, lambda out, data=data: out.write(data))


def post_deliveries(settings: Settings, bodies: list[dict]) -> tuple[int, int]:
    """POST each body to the sidecar on 127.0.0.1 (never another host); (accepted, refused)."""
    from ltv_core.webhook_tokens import ensure_token

    token = ensure_token(settings.webhook_tokens_path, DEFAULT_ACCOUNT)
    url = f"http://127.0.0.1:{settings.webhook_port}/webhooks/samcart/{token}"
    accepted = refused = 0
    deadline = time.monotonic() + SIDECAR_WAIT_SECONDS
    for body in bodies:
        data = json.dumps(body).encode()
        while True:
            request = urllib.request.Request(
                url, data=data, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=10):
                    accepted += 1
                break
            except urllib.error.HTTPError:
                refused += 1
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise ConnectionError(
                        f"the webhook receiver is not answering on 127.0.0.1:"
                        f"{settings.webhook_port}; start `make run` (or `ltv run`) and run "
                        "`ltv demo` again (files already in the inbox are not ingested twice)"
                    ) from None
                time.sleep(1)
    return accepted, refused


def run_demo(settings: Settings, *, customers: int, seed: int, webhooks: int) -> int:
    settings.ensure_layout()
    business = build_business(customers, seed)
    files = demo_exports(business, load_catalog(settings.formats_config_path))
    drop_in_inbox(settings, files)
    lines = len(business.lines())
    print(
        f"Dropped 3 SamCart exports ({len(business.customers):,} customers, {lines:,} order "
        f"lines) in {settings.inbox_dir}"
    )
    bodies = demo_deliveries(business, webhooks, seed)
    try:
        accepted, refused = post_deliveries(settings, bodies)
    except ConnectionError as exc:
        print(f"ltv demo: {exc}", file=sys.stderr)
        return 1
    print(f"Posted {accepted} webhook deliveries to the webhook receiver ({refused} refused).")
    print(
        f"The report appears at {settings.web_url}/report "
        "once the pipeline has ingested them (about a minute)."
    )
    return 0
