"""The upload page with a chosen format, for content the pipeline already loaded: it says so at
once (as Dagster's records would), whatever became of the one result file kept per content."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from ltv_core.file_results import result_path
from ltv_core.formats.csv_file import inspect_file
from ltv_core.settings import Settings
from ltv_web.app import create_app
from tests.support import LOCAL_PAGES_URL, ORDERS_SAMPLE

ORDERS = {"format": "samcart-orders"}


def ltv_import(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ltv_pipeline.cli.main", "import", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def upload(client: TestClient, name: str, **fields: str) -> str:
    """The status page's HTML of an upload of the orders sample."""
    response = client.post(
        "/upload",
        files={"file": (name, ORDERS_SAMPLE.read_bytes(), "text/csv")},
        data=fields,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"]).text


def _delete_the_result(client: TestClient, settings: Settings) -> None:
    result_path(settings.results_dir, inspect_file(ORDERS_SAMPLE).sha256).unlink()


def _load_it_for_another_account(client: TestClient, settings: Settings) -> None:
    ltv_import("--account", "store-b", str(ORDERS_SAMPLE))


def _try_it_in_a_wrong_format(client: TestClient, settings: Settings) -> None:
    html = upload(client, "orders.csv", format="samcart-limited-subscriptions")
    assert 'data-state="failed"' in html


@pytest.mark.parametrize(
    "since",
    [_delete_the_result, _load_it_for_another_account, _try_it_in_a_wrong_format],
    ids=["result deleted", "loaded for another account", "tried in a wrong format"],
)
def test_content_loaded_before_is_said_to_be_so(ltv_home: Settings, since) -> None:
    ltv_import(str(ORDERS_SAMPLE))
    client = TestClient(create_app(ltv_home), base_url=LOCAL_PAGES_URL)
    since(client, ltv_home)
    html = upload(client, "orders-again.csv", **ORDERS)
    assert 'data-state="duplicate"' in html and "Already ingested" in html
