"""The upload page through FastAPI's TestClient: what is stored, what is refused, and why."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ltv_core.file_results import FileResult, write_result
from ltv_core.formats.csv_file import inspect_file
from ltv_core.settings import Settings
from ltv_web.app import create_app
from tests.support import LIMITED_SAMPLE, LOCAL_PAGES_URL, ORDERS_SAMPLE


@pytest.fixture
def client(ltv_home: Settings) -> TestClient:
    return TestClient(create_app(ltv_home), base_url=LOCAL_PAGES_URL)


def post_file(client: TestClient, name: str, data: bytes, **fields: str):
    return client.post(
        "/upload",
        files={"file": (name, data, "text/csv")},
        data={"format": "detect", **fields},
        follow_redirects=False,
    )


def inbox_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.inbox_dir.rglob("*") if p.is_file())


def leftovers(settings: Settings) -> list[Path]:
    incoming = settings.uploads_dir / ".incoming"
    return list(incoming.iterdir()) if incoming.exists() else []


def test_the_form_has_labelled_fields_and_the_three_formats(client):
    html = client.get("/upload").text
    for field_id in ("file", "format", "account"):
        assert f'<label for="{field_id}">' in html and f'id="{field_id}"' in html
    for label in (
        "Detect automatically",
        "SamCart Orders CSV",
        "SamCart Recurring Subscriptions CSV",
        "SamCart Limited Subscriptions CSV",
    ):
        assert label in html


def test_a_path_in_the_client_name_is_never_used(client, ltv_home):
    data = ORDERS_SAMPLE.read_bytes()
    response = post_file(client, "../../../etc/cron.d/evil.csv", data)
    assert response.status_code == 303
    [stored] = inbox_files(ltv_home)
    assert stored.parent == ltv_home.inbox_dir
    assert stored.name.endswith("-evil.csv") and ".." not in stored.name
    assert stored.read_bytes() == data
    assert not (ltv_home.home.parent / "etc").exists()
    page = client.get(response.headers["location"]).text
    assert "evil.csv" in page and "Waiting for the pipeline" in page
    assert leftovers(ltv_home) == []


def test_an_account_upload_goes_to_its_inbox_folder(client, ltv_home):
    data = ORDERS_SAMPLE.read_bytes()
    response = post_file(client, "orders.csv", data, account="store-2")
    assert response.status_code == 303, response.text
    [stored] = inbox_files(ltv_home)
    assert stored.parent == ltv_home.inbox_dir / "store-2"
    assert stored.read_bytes() == data


@pytest.mark.parametrize(
    ("name", "data", "fields", "status", "message"),
    [
        ("empty.csv", b"", {}, 400, "the file is empty"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}, 415, "binary data"),
        ("orders.csv", b"a,b\n1,2\n", {"format": "excel"}, 400, "unknown format"),
        ("orders.csv", b"a,b\n1,2\n", {"account": "../x"}, 400, "invalid account name"),
    ],
)
def test_unusable_uploads_are_refused_with_a_clear_error(
    client, ltv_home, name, data, fields, status, message
):
    response = post_file(client, name, data, **fields)
    assert response.status_code == status
    assert message in response.text and 'role="alert"' in response.text
    assert inbox_files(ltv_home) == []
    assert leftovers(ltv_home) == []


def test_a_file_over_the_limit_is_stopped_and_removed(ltv_home):
    settings = ltv_home.model_copy(update={"web_max_upload_bytes": 1000})
    client = TestClient(create_app(settings), base_url=LOCAL_PAGES_URL)
    response = post_file(client, "big.csv", b"x,y\n" + b"1,2\n" * 10_000)
    assert response.status_code == 413
    assert "larger than the upload limit of 1,000 bytes" in response.text

    # Chunked, with no Content-Length to refuse it early: still stopped while streaming.
    boundary = "b0undary"

    def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        for _ in range(100):
            yield b"1,2\n" * 100
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/upload",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert inbox_files(settings) == [] and leftovers(settings) == []


def test_no_file_and_cross_site_posts_are_refused(client, ltv_home):
    response = client.post("/upload", data={"format": "detect"})
    assert response.status_code == 400
    response = client.post(
        "/upload",
        files={"file": ("a.csv", b"a\n1\n", "text/csv")},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert inbox_files(ltv_home) == []


def test_the_status_page_shows_the_pipelines_result(client, ltv_home):
    response = post_file(client, "orders.csv", ORDERS_SAMPLE.read_bytes())
    status_url = response.headers["location"]
    assert 'http-equiv="refresh"' in client.get(status_url).text
    sha256 = inspect_file(ORDERS_SAMPLE).sha256
    [stored] = inbox_files(ltv_home)
    stored.unlink()  # what the sensor does once the file is archived
    assert "ingesting this file" in client.get(status_url).text
    write_result(
        ltv_home.results_dir,
        FileResult(
            file=stored.name,
            format="samcart-orders",
            status="loaded",
            rows=8,
            rejected=2,
            error=None,
            sha256=sha256,
            first_rejects=["row 4, column Price: '$x' is not an amount; expected e.g. $1,234.50"],
        ),
    )
    html = client.get(status_url).text
    assert 'http-equiv="refresh"' not in html
    assert 'id="rows-accepted">8<' in html and 'id="rows-rejected">2<' in html
    assert "SamCart Orders CSV" in html
    assert "row 4, column Price: &#39;$x&#39; is not an amount" in html
    assert "orders.csv" in client.get("/upload").text  # listed under recent uploads


def test_an_older_result_of_the_same_content_is_not_shown_as_this_uploads(client, ltv_home):
    sha256 = inspect_file(ORDERS_SAMPLE).sha256
    write_result(
        ltv_home.results_dir,
        FileResult(
            file="old.csv",
            format="samcart-orders",
            status="loaded",
            rows=10,
            rejected=0,
            error=None,
            sha256=sha256,
        ),
    )
    old = time.time() - 600
    os.utime(ltv_home.results_dir / f"{sha256}.json", (old, old))
    status_url = post_file(client, "again.csv", ORDERS_SAMPLE.read_bytes()).headers["location"]
    assert 'data-state="waiting"' in client.get(status_url).text
    write_result(
        ltv_home.results_dir,
        FileResult(
            file="again.csv",
            format="samcart-orders",
            status="duplicate",
            rows=10,
            rejected=0,
            error=None,
            sha256=sha256,
        ),
    )
    assert "Already ingested" in client.get(status_url).text


def test_a_chosen_format_reaches_the_pipeline(client, ltv_home):
    response = post_file(
        client, "plans.csv", LIMITED_SAMPLE.read_bytes(), format="samcart-limited-subscriptions"
    )
    assert response.status_code == 303
    sha256 = inspect_file(LIMITED_SAMPLE).sha256
    manifest = json.loads((ltv_home.archive_dir / f"{sha256}.json").read_text())
    assert manifest["arrivals"][0]["format"] == "samcart-limited-subscriptions"
    assert inbox_files(ltv_home) == [] and leftovers(ltv_home) == []


def test_a_chosen_format_that_does_not_fit_says_why(client, ltv_home):
    response = post_file(
        client, "orders.csv", ORDERS_SAMPLE.read_bytes(), format="samcart-limited-subscriptions"
    )
    html = client.get(response.headers["location"]).text
    assert 'data-state="failed"' in html and "not ingested" in html
    assert "The header fits samcart-orders (SamCart Orders CSV)" in html
    assert list((ltv_home.quarantine_dir / "default").glob("*.csv"))
    assert not list(ltv_home.archive_dir.glob("*.csv"))


def test_unknown_upload_ids_are_not_found(client):
    assert client.get("/uploads/..%2F..%2Fwebhook_tokens").status_code == 404
    assert client.get("/uploads/20240101T000000-deadbeef").status_code == 404


def test_the_same_file_uploaded_twice_is_stored_once_and_the_second_says_duplicate(
    client, ltv_home
):
    data = ORDERS_SAMPLE.read_bytes()
    first_url = post_file(client, "orders.csv", data).headers["location"]
    second_url = post_file(client, "orders (1).csv", data).headers["location"]
    [stored] = inbox_files(ltv_home)
    assert stored.name.endswith("-orders.csv")
    assert leftovers(ltv_home) == []
    second = client.get(second_url).text
    assert 'data-state="duplicate"' in second and 'http-equiv="refresh"' not in second
    assert f'duplicate of <a id="duplicate-of" href="{first_url}">orders.csv</a>' in second
    # The pipeline loads the one stored copy: the first upload says so, the second still
    # names the first.
    stored.unlink()
    write_result(
        ltv_home.results_dir,
        FileResult(
            file=stored.name,
            format="samcart-orders",
            status="loaded",
            rows=10,
            rejected=0,
            error=None,
            sha256=inspect_file(ORDERS_SAMPLE).sha256,
        ),
    )
    assert 'id="rows-accepted">10<' in client.get(first_url).text
    assert "duplicate of" in client.get(second_url).text
    assert "duplicate of orders.csv" in client.get("/upload").text


def test_a_file_with_a_chosen_format_uploaded_twice_is_received_once(client, ltv_home):
    data = LIMITED_SAMPLE.read_bytes()
    chosen = {"format": "samcart-limited-subscriptions"}
    post_file(client, "plans.csv", data, **chosen)
    second_url = post_file(client, "plans-again.csv", data, **chosen).headers["location"]
    sha256 = inspect_file(LIMITED_SAMPLE).sha256
    manifest = json.loads((ltv_home.archive_dir / f"{sha256}.json").read_text())
    [arrival] = manifest["arrivals"]
    assert arrival["file_name"].endswith("-plans.csv")
    assert "duplicate of" in client.get(second_url).text
    assert leftovers(ltv_home) == []


def test_a_failed_upload_is_not_a_reason_to_refuse_the_retry(client, ltv_home):
    data = ORDERS_SAMPLE.read_bytes()
    wrong = {"format": "samcart-limited-subscriptions"}
    post_file(client, "orders.csv", data, **wrong)
    retry_url = post_file(client, "orders.csv", data, **wrong).headers["location"]
    assert 'data-state="failed"' in client.get(retry_url).text
    assert len(list((ltv_home.quarantine_dir / "default").glob("*.csv"))) == 2
