"""The pipeline half without HTTP: idempotent partitions, rejects, sensor, days, tokens, CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, build_sensor_context
from dagster._core.test_utils import create_run_for_test

from ltv_core.formats.profiles import load_catalog
from ltv_core.settings import Settings
from ltv_core.webhook_payload import document_text
from ltv_core.webhook_segments import CREATE_TABLE, TABLE, Layout
from ltv_pipeline.cli.main import main as ltv_main
from ltv_pipeline.defs.resources import LtvSettings
from ltv_pipeline.defs.webhooks.event_types import event_type_spellings
from ltv_pipeline.defs.webhooks.parsing import DOCS_SCHEMA, MAX_REPEATED_CHARS, parse_lines
from ltv_pipeline.defs.webhooks.sensor import webhook_sensor
from ltv_pipeline.lib.webhook_import import day_window, import_landed, received_days
from ltv_pipeline.warehouse.webhook_tables import WEBHOOK_TABLES
from tests.webhooks.sidecar import event_body, materialize_days, sha256, warehouse_rows

SPELLINGS = event_type_spellings(load_catalog())


def _resources() -> dict[str, LtvSettings]:
    """The settings the sensor is given, as Dagster gives them: of the environment's home."""
    return {"ltv_settings": LtvSettings.from_settings(Settings.from_env())}


def _sealed_segment(
    home: Path,
    name: str,
    bodies: list[tuple[bytes, str, str | None]],
    received: list[dt.datetime] | None = None,
    content_type: str = "application/json",
) -> None:
    """Write a sealed segment the way the sidecar does (rows, close, rename into sealed/)."""
    layout = Layout(home / "webhooks")
    layout.ensure()
    path = layout.active / name
    conn = duckdb.connect(str(path))
    conn.execute(CREATE_TABLE)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for index, (body, outcome, reason) in enumerate(bodies):
        conn.execute(
            f"INSERT INTO {TABLE} VALUES ('default', ?, ?, ?, ?, ?, ?)",
            [
                sha256(body),
                received[index] if received else now,
                content_type,
                body,
                outcome,
                reason,
            ],
        )
    conn.close()
    path.rename(layout.sealed / name)


BAD_PRICE = json.dumps(
    {
        "type": "Order",
        "customer": {"email": "a@b.example"},
        "order": {"id": 1},
        "product": {"id": 2, "price": "forty"},
    }
).encode()
NO_TYPE = json.dumps({"customer": {"email": "a@b.example"}, "order": {"id": 3}}).encode()


def test_partition_is_replaced_exactly_and_rejects_are_not_repeated(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good = [event_body(n) for n in range(3)]
    _sealed_segment(
        home,
        "x-000001.duckdb",
        [(b, "accepted", None) for b in [*good, BAD_PRICE, NO_TYPE]]
        + [(b"oops", "dead_letter", "the body is not valid JSON")],
    )
    materialize_days(home)
    first = warehouse_rows(home, "SELECT * FROM raw_samcart_webhook_events ORDER BY ALL")
    rejects = warehouse_rows(home, "SELECT column_name, value, reason FROM rejects ORDER BY ALL")
    materialize_days(home)
    assert warehouse_rows(home, "SELECT * FROM raw_samcart_webhook_events ORDER BY ALL") == first
    assert (
        warehouse_rows(home, "SELECT column_name, value, reason FROM rejects ORDER BY ALL")
        == rejects
    )
    assert len(first) == 3
    assert {r[0] for r in rejects} == {"product.price", "type", None}
    assert any(r[1] == "forty" and "not an amount" in r[2] for r in rejects)
    assert any("dead letter" in r[2] for r in rejects)
    assert (home / "webhooks" / "imported" / "x-000001.duckdb").exists()


def _event(event_type: str, order: dict, **extra: object) -> bytes:
    body = {
        "type": event_type,
        "customer": {"email": "a@b.example"},
        "order": order,
        "product": {"id": 2, "price": "10.00"},
        **extra,
    }
    return json.dumps(body).encode()


def test_events_without_the_identity_their_type_needs_are_rejected(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing_order = {
        t: _event(t, {"subscription_id": 70}) for t in ("Order", "Refund", "PartialRefund")
    }
    missing_subscription = {
        t: _event(t, {"id": 5}) for t in ("RecurringPaymentSucceeded", "RecurringPaymentFailed")
    }
    fine = [
        _event("RecurringPaymentSucceeded", {"id": 6}, subscription={"id": 71}),
        _event("Cancel", {"subscription_id": 72}),
        _event("Refund", {"id": 7}),
    ]
    bodies = [*missing_order.values(), *missing_subscription.values(), *fine]
    _sealed_segment(home, "v-000001.duckdb", [(b, "accepted", None) for b in bodies])
    materialize_days(home)
    stored = warehouse_rows(home, "SELECT delivery_hash FROM raw_samcart_webhook_events")
    assert sorted(row[0] for row in stored) == sorted(sha256(b) for b in fine)
    rejects = dict(warehouse_rows(home, "SELECT file_hash, reason FROM rejects"))
    for event_type, body in missing_order.items():
        assert rejects[sha256(body)] == (
            f"order.id: missing; a {event_type} event needs the SamCart order id"
        )
    for event_type, body in missing_subscription.items():
        assert rejects[sha256(body)].startswith("order.subscription_id: missing")
        assert f"a {event_type} event needs the SamCart subscription id" in rejects[sha256(body)]
    assert len(rejects) == len(missing_order) + len(missing_subscription)


FORM = "application/x-www-form-urlencoded"


def test_a_poison_delivery_is_one_reject_and_its_day_still_lands(tmp_path: Path) -> None:
    """Deliveries an older receiver answered 200 (so stored as accepted, past the new nesting
    guard): a form nested 1,200 levels used to make every run of its day fail with
    RecursionError. Now each is one reject with its reason, and the good ones of the day land."""
    home = tmp_path / "home"
    good_json = [event_body(n) for n in range(3)]
    good_form = b"type=Order&customer[email]=f@b.example&order[id]=8&product[price]=9.00"
    poison_form = b"type=Order&a" + b"[b]" * 1200 + b"=1"
    deep_json = b'{"type":"Order","a":' + b"[" * 950 + b"]" * 950 + b"}"
    _sealed_segment(
        home, "p-000001.duckdb", [(b, "accepted", None) for b in [*good_json, deep_json]]
    )
    _sealed_segment(
        home,
        "p-000002.duckdb",
        [(b, "accepted", None) for b in (good_form, poison_form)],
        None,
        FORM,
    )
    materialize_days(home)  # asserts the run (and its blocking contract check) succeeded
    stored = warehouse_rows(home, "SELECT DISTINCT delivery_hash FROM raw_samcart_webhook_events")
    assert sorted(h for (h,) in stored) == sorted(sha256(b) for b in [*good_json, good_form])
    rejects = warehouse_rows(home, "SELECT file_hash, line_number, reason FROM rejects")
    assert sorted(r[0] for r in rejects) == sorted([sha256(poison_form), sha256(deep_json)])
    reasons = {h: reason for h, _, reason in rejects}
    assert "is nested 1201 levels deep; at most 32 are allowed" in reasons[sha256(poison_form)]
    assert "nested" in reasons[sha256(deep_json)]


def test_a_document_duckdb_cannot_parse_is_one_reject_and_the_others_land() -> None:
    """Should the day's SQL fail on one document, that document alone is rejected."""
    good = document_text(event_body(1), "application/json")
    received = dt.datetime(2026, 1, 1, 12)
    documents = pa.Table.from_pylist(
        [
            {"account": "default", "delivery_hash": "a" * 64, "received_at": received, "doc": good},
            {"account": "default", "delivery_hash": "b" * 64, "received_at": received, "doc": "{"},
        ],
        schema=DOCS_SCHEMA,
    )
    conn = duckdb.connect()
    rejects = parse_lines(conn, documents, received.date(), "lines", SPELLINGS)
    assert conn.execute("SELECT delivery_hash, reject_reason FROM lines").fetchall() == [
        ("a" * 64, None)
    ]
    assert [(r.delivery_hash, r.line_number) for r in rejects] == [("b" * 64, None)]
    assert rejects[0].reason.startswith("the body could not be parsed (")
    with pytest.raises(duckdb.Error):  # all failing: a fault of the parser, not of a delivery
        parse_lines(
            conn,
            pa.concat_tables([documents.slice(1), documents.slice(1)]),
            received.date(),
            "lines",
            SPELLINGS,
        )


def test_events_of_types_the_model_does_not_use_are_kept(tmp_path: Path) -> None:
    """An unknown type needs no order/subscription id and no email: it is kept under its raw
    type (the model reads only the types it knows). Known types still need theirs."""
    home = tmp_path / "home"
    prospect = json.dumps({"type": "ProspectCreated", "customer": {"email": "p@b.example"}})
    no_email = json.dumps({"event": "affiliate.signup", "affiliate": {"id": 12}})
    cancel_without_ids = json.dumps({"type": "Cancel", "customer": {"email": "c@b.example"}})
    bad_price = json.dumps({"type": "Upsell Viewed", "product": {"price": "lots"}})
    bodies = [b.encode() for b in (prospect, no_email, cancel_without_ids, bad_price)]
    _sealed_segment(home, "u-000001.duckdb", [(b, "accepted", None) for b in bodies])
    materialize_days(home)
    stored = warehouse_rows(
        home,
        "SELECT delivery_hash, event_type, raw_type, order_id, customer_email, affiliate "
        "FROM raw_samcart_webhook_events ORDER BY event_type",
    )
    assert stored == [
        (sha256(bodies[0]), "ProspectCreated", "ProspectCreated", None, "p@b.example", None),
        (sha256(bodies[1]), "affiliate.signup", "affiliate.signup", None, None, "12"),
    ]
    rejects = dict(warehouse_rows(home, "SELECT file_hash, reason FROM rejects"))
    assert rejects == {
        sha256(bodies[2]): "order.id: missing (and no subscription id); "
        "expected the SamCart order id",
        sha256(bodies[3]): rejects[sha256(bodies[3])],
    }
    assert rejects[sha256(bodies[3])].startswith("product.price: not an amount")


def test_sensor_asks_for_today_when_a_segment_is_sealed(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LTV_HOME", str(home))
    instance = DagsterInstance.ephemeral()
    skipped = webhook_sensor(build_sensor_context(instance=instance, resources=_resources()))
    assert "no sealed" in str(skipped)
    _sealed_segment(home, "y-000001.duckdb", [(event_body(1), "accepted", None)])
    result = webhook_sensor(build_sensor_context(instance=instance, resources=_resources()))
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert [r.partition_key for r in result.run_requests] == [today]


def test_sensor_asks_for_every_day_of_a_segment_imported_by_another_run(
    tmp_path: Path, monkeypatch
) -> None:
    """A run imports every sealed segment; the days it did not materialize are asked for, and
    stay asked for (also after a failed run) until a run of that day succeeds."""
    home = tmp_path / "home"
    monkeypatch.setenv("LTV_HOME", str(home))
    instance = DagsterInstance.ephemeral()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    today, yesterday = now.date().isoformat(), (now - dt.timedelta(days=1)).date().isoformat()
    _sealed_segment(
        home,
        "w-000001.duckdb",
        [(event_body(1), "accepted", None), (event_body(2), "accepted", None)],
        received=[now - dt.timedelta(days=1), now],
    )
    conn = duckdb.connect()  # a run for yesterday imports the segment (both days), then fails
    conn.execute(WEBHOOK_TABLES[0])
    import_landed(conn, home / "webhooks")
    assert not Layout(home / "webhooks").sealed_segments()

    def requested(cursor: str | None) -> tuple[list[str], str | None]:
        result = webhook_sensor(
            build_sensor_context(instance=instance, cursor=cursor, resources=_resources())
        )
        return sorted(r.partition_key for r in result.run_requests), result.cursor

    days, cursor = requested(None)
    assert days == [yesterday, today]
    days, cursor = requested(cursor)  # no run succeeded: asked for again
    assert days == [yesterday, today]
    for day, status in ((yesterday, DagsterRunStatus.FAILURE), (today, DagsterRunStatus.SUCCESS)):
        create_run_for_test(
            instance,
            tags={"dagster/partition": day},
            status=status,
            asset_selection={AssetKey("raw_samcart_webhook_events")},
        )
    days, cursor = requested(cursor)
    assert days == [yesterday]
    create_run_for_test(
        instance,
        tags={"dagster/partition": yesterday},
        status=DagsterRunStatus.SUCCESS,
        asset_selection={AssetKey("raw_samcart_webhook_events")},
    )
    days, cursor = requested(cursor)
    assert days == []
    assert "no sealed" in str(
        webhook_sensor(
            build_sensor_context(instance=instance, cursor=cursor, resources=_resources())
        )
    )


def test_local_days_follow_the_configured_time_zone() -> None:
    start, end = day_window(dt.date(2024, 3, 10), "America/New_York")  # DST starts: 23 hours
    assert (start, end - start) == (dt.datetime(2024, 3, 10, 5), dt.timedelta(hours=23))
    conn = duckdb.connect()
    conn.execute("CREATE TABLE webhook_deliveries (received_at TIMESTAMP)")
    conn.execute(
        "INSERT INTO webhook_deliveries VALUES ('2024-03-10 04:59:00'), "
        "('2024-03-10 05:00:00'), ('2024-03-11 03:59:00')"
    )
    assert received_days(conn, "America/New_York") == [dt.date(2024, 3, 9), dt.date(2024, 3, 10)]


def test_webhook_url_creates_a_private_token_once(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LTV_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))  # the CLI exports it
    assert ltv_main(["webhook-url", "--base-url", "https://ltv.example.com/"]) == 0
    first = capsys.readouterr().out
    assert ltv_main(["webhook-url", "--base-url", "https://ltv.example.com"]) == 0
    second = capsys.readouterr().out
    url = first.splitlines()[0]
    assert url == second.splitlines()[0]
    assert url.startswith("https://ltv.example.com/webhooks/samcart/")
    for step in ("Notify URL", "Product Purchased", "Subscription Charged", "Refunded", "Cancel"):
        assert step in first
    tokens = Settings.from_env({"LTV_HOME": str(tmp_path)}).webhook_tokens_path
    assert stat.S_IMODE(os.stat(tokens).st_mode) == 0o600
    assert ltv_main(["webhook-url", "--account", "store-2"]) == 0
    assert len(json.loads(tokens.read_text())) == 2
    assert ltv_main(["webhook-url", "--account", "Bad Name"]) == 2


def test_ltv_sql_counts_events_after_materialize(tmp_path: Path, monkeypatch, capsys) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LTV_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    _sealed_segment(home, "z-000001.duckdb", [(event_body(n), "accepted", None) for n in range(4)])
    assert ltv_main(["materialize", "key:raw_samcart_webhook_events"]) == 0
    capsys.readouterr()
    assert ltv_main(["sql", "select count(*) from raw_samcart_webhook_events"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "4"


def _order_with(**product: object) -> dict:
    order = json.loads((Path(__file__).parents[1] / "data/webhooks/order.json").read_text())
    order["product"].update(product)
    return order


def test_a_delivery_with_absurdly_many_product_lines_is_one_reject(tmp_path: Path) -> None:
    """Each line repeats the delivery's fields: 5,000 comma-joined ids took seconds and GBs
    (200,000 ids OOM-killed the day). Too many lines, or lines that would repeat too much
    text, make one reject naming the count and the limit; the rest of the day lands."""
    home = tmp_path / "home"
    many = json.dumps(_order_with(id=",".join(["7"] * 5000))).encode()
    wide_order = _order_with(id=",".join(["8"] * 900))
    wide_order["customer"]["last_name"] = "x" * 20000  # repeated on 900 lines: 18 M chars
    wide = json.dumps(wide_order).encode()
    three = json.dumps(_order_with(id="1,2,3", name="A, B,C", price="10.00,20.00,30.00")).encode()
    bodies = [many, wide, three]
    _sealed_segment(home, "m-000001.duckdb", [(b, "accepted", None) for b in bodies])
    materialize_days(home)
    stored = warehouse_rows(
        home,
        "SELECT delivery_hash, line_index, line_count, product_id, product_name, amount "
        "FROM raw_samcart_webhook_events ORDER BY line_index",
    )
    assert [row[1:] for row in stored] == [
        (1, 3, "1", "A", Decimal("10.00")),
        (2, 3, "2", "B", Decimal("20.00")),
        (3, 3, "3", "C", Decimal("30.00")),
    ]
    assert {row[0] for row in stored} == {sha256(three)}
    rows = warehouse_rows(home, "SELECT file_hash, column_name, value, reason FROM rejects")
    rejects = {content_hash: rest for content_hash, *rest in rows}
    assert len(rows) == 2
    assert rejects[sha256(many)] == [
        "product.id",
        None,
        "product.id: 5000 product lines; at most 1000 per delivery",
    ]
    column, value, reason = rejects[sha256(wide)]
    assert (column, value) == ("product.id", None)
    assert reason.startswith("product.id: 900 product lines of a ")
    assert reason.endswith(f"; at most {MAX_REPEATED_CHARS} per delivery (lines x body size)")
