"""A file that is archived but fails while its rows are parsed is quarantined once, with its
reason, and every later `ltv materialize` lists it as skipped instead of failing on it again."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_ltv_cli import json_lines, ltv
from tests.support import ORDERS_SAMPLE, write_file_failing_at_parse


def test_a_file_failing_while_parsed_is_quarantined_once_then_skipped(ltv_home, tmp_path: Path):
    bad = write_file_failing_at_parse(tmp_path / "bad-export.csv")
    imported = ltv("import", str(bad), str(ORDERS_SAMPLE), "--json")
    assert imported.returncode == 1, imported.stderr
    failed, loaded = json_lines(imported.stdout)
    assert failed["status"] == "failed" and loaded["status"] == "loaded"
    assert "does not decode as UTF-16" in failed["error"]
    copy = ltv_home.quarantine_dir / "default" / "bad-export.csv"
    assert f"set aside as {copy}" in failed["error"]
    assert copy.read_bytes() == bad.read_bytes()
    note = (copy.parent / "bad-export.csv.error.txt").read_text()
    assert "does not decode as UTF-16" in note and "ltv import" in note
    assert bad.exists(), "the user's original stays where it was"

    first = ltv("materialize")
    assert first.returncode == 0, first.stdout + first.stderr
    skipped = [ln for ln in first.stdout.splitlines() if "skipped, quarantined before" in ln]
    assert len(skipped) == 1 and f"bad-export.csv · {failed['sha256'][:8]}]" in skipped[0], (
        first.stdout
    )
    assert "does not decode as UTF-16" in skipped[0]
    assert "0 failed" in first.stdout

    second = ltv("materialize")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "everything is up to date" in second.stdout
    assert sum("skipped, quarantined before" in ln for ln in second.stdout.splitlines()) == 1
    assert sorted(p.name for p in copy.parent.iterdir()) == [
        "bad-export.csv",
        "bad-export.csv.error.txt",
    ], "quarantined once, not once per run"
    stored = json.loads((ltv_home.results_dir / f"{failed['sha256']}.json").read_text())
    assert stored["status"] == "failed"
    counted = ltv("sql", "select count(*) as n from raw_samcart_orders")
    assert counted.stdout.splitlines() == ["n", "10"]
