"""`ltv` end to end, as a user runs it: real subprocesses on a temporary LTV_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ltv_core.settings import Settings
from tests.support import (
    LIMITED_SAMPLE,
    LOCAL_PAGES_URL,
    ORDERS_SAMPLE,
    RECURRING_SAMPLE,
    warehouse_held,
    write_csv,
)

LTV = [sys.executable, "-m", "ltv_pipeline.cli.main"]
MODEL_TABLES = ("subscriptions", "transactions", "declined_charges", "customers")


def ltv(*args: str, env_extra: dict[str, str] | None = None, timeout: float = 180):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [*LTV, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_import_reports_each_file_and_keeps_the_original(ltv_home, tmp_path: Path):
    bad = write_csv(tmp_path / "contacts.csv", "Name,Phone\nAda,1\n")
    messy = write_csv(
        tmp_path / "orders-with-a-bad-row.csv",
        ORDERS_SAMPLE.read_text(encoding="utf-8-sig")
        + "100200700,02/30/2024,10:00:00,Charged,1,X,$1.00,A,B,x@y.z,,,,,,\n",
    )
    done = ltv("import", str(messy), str(RECURRING_SAMPLE), str(LIMITED_SAMPLE), str(bad), "--json")
    assert done.returncode == 1, done.stderr
    results = {Path(r["file"]).name: r for r in json_lines(done.stdout)}
    assert results["orders-with-a-bad-row.csv"] | {"sha256": None} == {
        "file": str(messy),
        "format": "samcart-orders",
        "status": "loaded",
        "rows": 10,
        "rejected": 1,
        "error": None,
        "account": "default",
        "sha256": None,
        "first_rejects": results["orders-with-a-bad-row.csv"]["first_rejects"],
    }
    assert "line 13, column Order Date" in results["orders-with-a-bad-row.csv"]["first_rejects"][0]
    assert results[RECURRING_SAMPLE.name]["rows"] == 3
    assert results[LIMITED_SAMPLE.name]["format"] == "samcart-limited-subscriptions"
    assert results["contacts.csv"]["status"] == "failed"
    assert '"Customer Email"' in results["contacts.csv"]["error"]
    assert messy.exists(), "the user's original file stays where it was"
    written = json.loads(
        (ltv_home.results_dir / f"{results[LIMITED_SAMPLE.name]['sha256']}.json").read_text()
    )
    assert written == results[LIMITED_SAMPLE.name]
    assert "Traceback" not in done.stderr

    again = ltv("import", str(ORDERS_SAMPLE), "--json")
    assert again.returncode == 0
    assert json_lines(again.stdout)[0]["status"] == "loaded"
    duplicate = ltv("import", str(ORDERS_SAMPLE), "--json")
    assert json_lines(duplicate.stdout)[0]["status"] == "duplicate"

    counted = ltv("sql", "select count(*) as n from raw_samcart_orders")
    assert counted.stdout.splitlines() == ["n", "20"]  # two distinct files, 10 rows each


def test_a_broken_dagster_home_is_a_plain_error(ltv_home):
    (ltv_home.dagster_home / "dagster.yaml").write_text("storage:\n  bogus: {}\n")
    done = ltv("import", str(ORDERS_SAMPLE), "--json")
    assert done.returncode == 1
    assert "Dagster's instance in" in done.stderr and "cannot be opened" in done.stderr
    assert "Traceback" not in done.stderr


def test_format_flag_and_account_flag(ltv_home):
    wrong = ltv("import", str(ORDERS_SAMPLE), "--format", "samcart-limited-subscriptions", "--json")
    assert wrong.returncode == 1
    assert "does not fit samcart-limited-subscriptions" in json_lines(wrong.stdout)[0]["error"]
    right = ltv("import", str(ORDERS_SAMPLE), "--account", "store-b", "--json")
    assert json_lines(right.stdout)[0]["account"] == "store-b"
    accounts = ltv("sql", "select distinct account from raw_samcart_orders")
    assert accounts.stdout.splitlines() == ["account", "store-b"]
    invalid = ltv("import", str(ORDERS_SAMPLE), "--account", "../etc")
    assert invalid.returncode == 2
    assert "invalid account name" in invalid.stderr


def test_header_only_and_empty_files(ltv_home, tmp_path: Path):
    header_only = write_csv(
        tmp_path / "header.csv",
        ORDERS_SAMPLE.read_text(encoding="utf-8-sig").splitlines()[0] + "\n",
    )
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    done = ltv("import", str(header_only), str(empty), "--json")
    first, second = json_lines(done.stdout)
    assert (first["status"], first["rows"]) == ("loaded", 0)
    assert second["status"] == "failed" and "empty" in second["error"]


def test_materialize_brings_everything_up_to_date_and_sql_is_read_only(ltv_home):
    assert ltv("import", str(ORDERS_SAMPLE)).returncode == 0
    up_to_date = ltv("materialize")
    assert up_to_date.returncode == 0, up_to_date.stderr
    # The model's four tables are one step: rebuilt once, not once per table.
    model_runs = [ln for ln in up_to_date.stdout.splitlines() if ln.startswith(MODEL_TABLES)]
    assert len(model_runs) == 1, up_to_date.stdout
    rerun = ltv("materialize", "key:raw_samcart_orders")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "1 succeeded, 0 failed" in rerun.stdout
    refused = ltv("sql", "delete from source_files")
    assert refused.returncode == 1
    assert "read-only" in refused.stderr.lower()
    assert ltv("sql", "select count(*) from raw_samcart_orders").stdout.splitlines()[1] == "10"


def test_materialize_rebuilds_the_model_when_the_customer_key_rule_changes(ltv_home):
    assert ltv("import", str(ORDERS_SAMPLE)).returncode == 0
    assert ltv("materialize").returncode == 0
    assert "everything is up to date" in ltv("materialize").stdout
    folded = {"LTV_CUSTOMER_KEY": "gmail-folded"}
    changed = ltv("materialize", env_extra=folded)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert any(ln.startswith(MODEL_TABLES) for ln in changed.stdout.splitlines())
    rule = ltv("sql", "select distinct customer_key_rule from customers").stdout.splitlines()
    assert rule == ["customer_key_rule", "gmail-folded"]
    assert "everything is up to date" in ltv("materialize", env_extra=folded).stdout


def test_a_held_warehouse_gives_warehouse_busy_not_a_trace(ltv_home):
    ltv("import", str(ORDERS_SAMPLE))
    with warehouse_held(ltv_home.warehouse_path):
        started = time.monotonic()
        busy = ltv("sql", "select 1", env_extra={"LTV_BUSY_TIMEOUT_SECONDS": "2"})
        waited = time.monotonic() - started
    assert busy.returncode == 2
    assert busy.stderr.strip() == "warehouse busy"
    assert waited >= 2
    assert ltv("sql", "select 1 as one").stdout.splitlines() == ["one", "1"]


@pytest.mark.parametrize("value", ["=HYPERLINK(1)", "+1", "@SUM(A1)"])
def test_sql_csv_neutralises_formula_cells(ltv_home, value: str):
    done = ltv("sql", f"select '{value}' as v, -5 as n")
    assert done.stdout.splitlines()[1] == f"'{value},-5"


ONLY_THE_WAREHOUSE = "ltv sql: only the warehouse can be queried"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("copy (select 1 as n) to '{folder}/out.csv'", ONLY_THE_WAREHOUSE),
        ("export database '{folder}/dump'", ONLY_THE_WAREHOUSE),
        ("attach '{folder}/other.duckdb' as other", ONLY_THE_WAREHOUSE),
        ("install httpfs", ONLY_THE_WAREHOUSE),
        ("load httpfs", ONLY_THE_WAREHOUSE),
        ("select * from read_text('{tokens}')", ONLY_THE_WAREHOUSE),
        ("select * from read_csv('/etc/passwd')", ONLY_THE_WAREHOUSE),
        ("select * from glob('{folder}/*')", ONLY_THE_WAREHOUSE),
        ("set enable_external_access = true", "the configuration has been locked"),
    ],
)
def test_sql_reads_the_warehouse_and_nothing_else(ltv_home, tmp_path: Path, query, message):
    ltv_home.webhook_tokens_path.write_text('{"default": "s3cret-token"}')
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    done = ltv("sql", query.format(folder=folder, tokens=ltv_home.webhook_tokens_path))
    assert done.returncode == 1, done.stdout
    assert message in done.stderr
    assert "s3cret-token" not in done.stdout + done.stderr
    assert list(folder.iterdir()) == []  # nothing written: no out.csv, dump/ or other.duckdb
    assert ltv("sql", "select count(*) as n from source_files").stdout.splitlines() == ["n", "0"]


def test_import_waits_for_a_held_warehouse_then_says_busy(ltv_home):
    ltv("import", str(ORDERS_SAMPLE))  # creates the warehouse
    with warehouse_held(ltv_home.warehouse_path):
        busy = ltv("import", str(RECURRING_SAMPLE), env_extra={"LTV_BUSY_TIMEOUT_SECONDS": "2"})
    assert busy.returncode == 2
    assert busy.stderr.strip().splitlines()[-1] == "warehouse busy"
    assert "Traceback" not in busy.stderr
    retried = ltv("import", str(RECURRING_SAMPLE), "--json")
    assert json_lines(retried.stdout)[0]["status"] == "loaded"


def test_a_second_export_reaches_the_model_and_a_third_materialize_does_nothing(
    ltv_home, tmp_path: Path
):
    first = ORDERS_SAMPLE
    second = write_csv(
        tmp_path / "b.csv",
        ORDERS_SAMPLE.read_text(encoding="utf-8-sig").replace("1002003", "9002003"),
    )
    for step in (("import", str(first)), ("materialize",), ("import", str(second))):
        done = ltv(*step)
        assert done.returncode == 0, done.stdout + done.stderr
    caught_up = ltv("materialize")
    assert caught_up.returncode == 0, caught_up.stdout + caught_up.stderr
    assert any(ln.startswith(MODEL_TABLES) for ln in caught_up.stdout.splitlines())
    orders = ltv("sql", "select count(*) as n from transactions where order_id like '9002003%'")
    assert orders.stdout.splitlines() == ["n", "4"], orders.stdout + orders.stderr
    nothing_new = ltv("materialize")
    assert nothing_new.stdout.strip() == "everything is up to date", nothing_new.stdout


def test_the_webhook_url_is_the_same_in_the_cli_and_the_pages_and_the_flag_beats_the_setting(
    ltv_home,
):
    from fastapi.testclient import TestClient

    from ltv_core.webhook_tokens import ensure_token
    from ltv_web.app import create_app

    token = ensure_token(ltv_home.webhook_tokens_path, "default")
    public = {"LTV_WEBHOOK_PUBLIC_URL": "https://ltv.example.com/"}
    printed = ltv("webhook-url", env_extra=public)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines()[0] == f"https://ltv.example.com/webhooks/samcart/{token}"
    assert "This is the local address" not in printed.stdout
    flagged = ltv("webhook-url", "--base-url", "https://other.example", env_extra=public)
    assert flagged.stdout.splitlines()[0] == f"https://other.example/webhooks/samcart/{token}"
    local = ltv("webhook-url")
    assert local.stdout.splitlines()[0] == (
        f"http://{ltv_home.webhook_host}:{ltv_home.webhook_port}/webhooks/samcart/{token}"
    )
    assert "This is the local address" in local.stdout
    pages = Settings.from_env({**os.environ, **public})
    with TestClient(create_app(pages), base_url=LOCAL_PAGES_URL) as client:
        html = client.get("/settings").text
    assert f'value="{printed.stdout.splitlines()[0]}"' in html
