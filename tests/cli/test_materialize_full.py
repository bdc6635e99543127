"""`ltv materialize --full`: a rebuild on demand of the model and marts, giving identical tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from dagster import AssetKey, DagsterInstance

from ltv_pipeline.metrics.predictive.tables import PREDICTION_TABLES
from tests.cli.test_ltv_cli import MODEL_TABLES, ltv
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE

MARTS = (
    "customer_ltv",
    "cohort_ltv",
    "ltv_by_front_end_product",
    "payment_plans",
    "subscription_metrics",
    "refund_rates",
    "repeat_purchase_rates",
    "time_between_purchases",
)
REBUILT = (*MODEL_TABLES, *MARTS, "published_reports")


def differing_tables(warehouse: Path, before: Path) -> dict[str, tuple[int, int]]:
    """Tables of the main schema (the model, the marts, the raw tables) whose rows differ from
    the copy taken before, with the row counts each side has that the other has not."""
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        conn.execute(f"attach '{before}' as before (read_only)")
        names = [
            row[0]
            for row in conn.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = current_database() and table_schema = 'main'"
            ).fetchall()
        ]
        assert set(MODEL_TABLES + MARTS) <= set(names), names
        differing = {}
        # The change log for the marts is bookkeeping: a full rebuild logs "everything" anew;
        # --full refits the predictions too, and their rows carry the new fit's time.
        left_out = {"customer_changes", "customer_changes_applied", *PREDICTION_TABLES}
        for name in sorted(set(names) - left_out):
            now, then = f'main."{name}"', f'before.main."{name}"'
            counts = tuple(
                conn.execute(f"select count(*) from (from {a} except all from {b})").fetchone()[0]
                for a, b in ((now, then), (then, now))
            )
            if counts != (0, 0):
                differing[name] = counts
        return differing
    finally:
        conn.close()


def latest_storage_ids(keys: tuple[str, ...]) -> dict[str, int | None]:
    with DagsterInstance.get() as instance:
        records = instance.get_asset_records([AssetKey(key) for key in keys])
        found = {
            r.asset_entry.asset_key.to_user_string(): r.asset_entry.last_materialization_storage_id
            for r in records
        }
    return {key: found.get(key) for key in keys}


def test_full_rebuilds_model_marts_and_reports_when_nothing_is_due_and_tables_stay_equal(
    ltv_home, tmp_path: Path
):
    for sample in (ORDERS_SAMPLE, RECURRING_SAMPLE):
        assert ltv("import", str(sample)).returncode == 0
    built = ltv("materialize")
    assert built.returncode == 0, built.stdout + built.stderr
    assert ltv("materialize").stdout.strip() == "everything is up to date"
    before = tmp_path / "before.duckdb"
    shutil.copyfile(ltv_home.warehouse_path, before)
    ids_before = latest_storage_ids(REBUILT)
    assert all(ids_before.values()), ids_before

    full = ltv("materialize", "--full")

    assert full.returncode == 0, full.stdout + full.stderr
    printed = full.stdout.splitlines()
    # One line per rebuilt definition: the model (its four tables are one step), each mart,
    # the published reports; no raw partition is parsed again.
    assert len([ln for ln in printed if ln.startswith(MODEL_TABLES)]) == 1, full.stdout
    for asset in (*MARTS, "published_reports"):
        assert f"{asset}: ok" in printed, full.stdout
    assert not [ln for ln in printed if ln.startswith("raw_samcart")], full.stdout
    ids_after = latest_storage_ids(REBUILT)
    assert all(ids_after[key] > ids_before[key] for key in REBUILT), (ids_before, ids_after)
    assert differing_tables(ltv_home.warehouse_path, before) == {}
    assert ltv("materialize").stdout.strip() == "everything is up to date"


def test_full_with_a_selection_also_reparses_what_it_selects(ltv_home):
    assert ltv("import", str(ORDERS_SAMPLE)).returncode == 0
    assert ltv("materialize").returncode == 0
    full = ltv("materialize", "--full", "key:raw_samcart_orders")
    assert full.returncode == 0, full.stdout + full.stderr
    printed = full.stdout.splitlines()
    assert any(ln.startswith("raw_samcart_orders [") for ln in printed), full.stdout
    assert "published_reports: ok" in printed, full.stdout


def test_help_says_raw_partitions_are_not_reparsed(ltv_home):
    shown = ltv("materialize", "--help")
    assert "--full" in shown.stdout
    assert "not re-parsed" in " ".join(shown.stdout.split())
