"""File partition keys: readable, accepted by Dagster, one per content and account."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import instance_for_test

from ltv_core.archive import ArchiveError, archive_file, archived_file_of, partition_key_of
from ltv_core.formats.csv_file import sha256_of
from ltv_core.partition_keys import file_partition_key, parse_file_partition_key

SHA = "9a94fa20" + "0" * 56


@pytest.mark.parametrize(
    ("file_name", "shown"),
    [
        ("samcart_orders_example.csv", "samcart_orders_example.csv"),
        ("store-b/Orders (Dec).csv", "Orders (Dec).csv"),
        ("a...b,c[1]\tx·y.csv", "a.b_c_1_x-y.csv"),
        ("", "file"),
    ],
)
def test_a_key_names_the_file_safely_and_parses_back(file_name: str, shown: str) -> None:
    key = file_partition_key("store-b", SHA, file_name, "2026-12-06")
    assert key == f"store-b · 2026-12-06 · {shown} · 9a94fa20"
    parsed = parse_file_partition_key(key)
    assert (parsed.account, parsed.hash, parsed.file_name, parsed.sha256) == (
        "store-b",
        "9a94fa20",
        shown,
        None,
    )
    with instance_for_test() as instance:  # Dagster takes it as a dynamic partition key
        instance.add_dynamic_partitions("files", [key])
        assert instance.get_dynamic_partitions("files") == [key]


def test_an_old_key_still_parses_and_a_bad_one_is_refused() -> None:
    parsed = parse_file_partition_key(f"store_b_{SHA}")
    assert (parsed.account, parsed.sha256, parsed.file_name) == ("store_b", SHA, None)
    with pytest.raises(ValueError, match="not a file partition key: 'default_abc'; expected"):
        parse_file_partition_key("default_abc")


def _archive(archive: Path, source: Path, account: str, name: str) -> str:
    sha = sha256_of(source)
    archive_file(
        archive, source, sha, account=account, format_name="samcart-orders", file_name=name
    )
    return sha


def test_a_content_keeps_its_key_for_its_account_and_the_key_finds_it(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    source = tmp_path / "orders.csv"
    source.write_text("Order ID\n1\n")
    sha = _archive(archive, source, "default", "orders.csv")
    key = partition_key_of(archive, sha, "default")
    assert key.endswith(f" · orders.csv · {sha[:8]}")
    _archive(archive, source, "default", "renamed.csv")  # the same content, another name
    assert partition_key_of(archive, sha, "default") == key
    assert archived_file_of(archive, key) == ("default", sha)
    other = partition_key_of(archive, _archive(archive, source, "shop", "x.csv"), "shop")
    assert other.startswith("shop · ") and archived_file_of(archive, other) == ("shop", sha)


def test_a_second_content_with_the_same_short_hash_gets_the_whole_hash(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    source = tmp_path / "orders.csv"
    source.write_text("Order ID\n1\n")
    sha = sha256_of(source)
    # Another content of the account whose hash starts the same (as one in 4 billion would).
    twin = sha[:8] + ("0" if sha[8] != "0" else "1") * 56
    archive.mkdir()
    arrival = {
        "account": "default",
        "format": "samcart-orders",
        "file_name": "orders.csv",
        "received_at": "2026-12-06T00:00:00+00:00",
        "partition_key": file_partition_key("default", twin, "orders.csv", "2026-12-06"),
    }
    (archive / f"{twin}.json").write_text(json.dumps({"sha256": twin, "arrivals": [arrival]}))
    _archive(archive, source, "default", "orders.csv")
    key = partition_key_of(archive, sha, "default")
    assert key.endswith(f" · {sha}")
    assert archived_file_of(archive, key) == ("default", sha)
    assert archived_file_of(archive, arrival["partition_key"]) == ("default", twin)


def test_a_key_the_archive_does_not_know_is_a_precise_error(tmp_path: Path) -> None:
    key = file_partition_key("default", SHA, "orders.csv", "2026-12-06")
    with pytest.raises(ArchiveError, match="no archived file has the partition key"):
        archived_file_of(tmp_path, key)
