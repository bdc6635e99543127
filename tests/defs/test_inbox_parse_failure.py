"""With a real Dagster daemon: a file dropped in the inbox that is archived but fails while its
rows are parsed ends in quarantine/ with its reason, as the inbox promises, and is skipped."""

from __future__ import annotations

import os
import time

import pytest

from ltv_core.settings import Settings
from tests.cli.test_ltv_cli import ltv
from tests.support import dagster_daemon, write_file_failing_at_parse

WAIT_SECONDS = 240


@pytest.mark.slow
def test_a_dropped_file_failing_while_parsed_is_quarantined_with_its_reason(ltv_home: Settings):
    log = ltv_home.home / "daemon.log"
    dropped = write_file_failing_at_parse(ltv_home.inbox_dir / "broken-export.csv")
    past = time.time() - 60
    os.utime(dropped, (past, past))
    copy = ltv_home.quarantine_dir / "default" / "broken-export.csv"
    note = copy.with_name("broken-export.csv.error.txt")
    with dagster_daemon(ltv_home.home) as daemon:
        started = time.monotonic()
        while not (note.exists() and list(ltv_home.parse_failures_dir.glob("*.json"))):
            assert daemon.poll() is None, log.read_text()[-3000:]
            if time.monotonic() - started > WAIT_SECONDS:
                pytest.fail("not quarantined after 4 minutes:\n" + log.read_text()[-3000:])
            time.sleep(2)
    assert not dropped.exists()
    assert len(list(ltv_home.archive_dir.glob("*.csv"))) == 1, "the archive keeps its copy"
    assert copy.stat().st_size == next(ltv_home.archive_dir.glob("*.csv")).stat().st_size
    assert "does not decode as UTF-16" in note.read_text()

    for _ in range(2):
        later = ltv("materialize")
        assert later.returncode == 0, later.stdout + later.stderr
        assert "broken-export.csv" in later.stdout and "skipped" in later.stdout
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name, note.name]
