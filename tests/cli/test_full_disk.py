"""A full disk under LTV_HOME: `ltv import` and `ltv materialize` say so in one line and exit
non-zero, with no traceback, and what was stored before is intact once there is room again."""

from __future__ import annotations

import errno
from pathlib import Path

from ltv_pipeline.formats.csv_file import sha256_of
from tests.cli.test_ltv_cli import ltv
from tests.support import ORDERS_SAMPLE, RECURRING_SAMPLE
from tests.webhooks.test_store_full import small_disk  # noqa: F401  (the fixture)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def _one_clear_line(done, home: Path) -> None:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ltv: disk full: "), done.stderr
    assert str(home) in lines[0]


def test_a_full_disk_is_one_plain_line_and_loses_nothing(small_disk: Path):  # noqa: F811
    home = small_disk / "home"
    env = {"LTV_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    assert ltv("import", str(ORDERS_SAMPLE), env_extra=env).returncode == 0
    [archived] = (home / "archive").glob("*.csv")
    filler = _fill(small_disk)

    _one_clear_line(ltv("import", str(RECURRING_SAMPLE), env_extra=env), home)
    _one_clear_line(ltv("materialize", env_extra=env), home)

    filler.unlink()
    assert sha256_of(archived) == archived.stem
    counted = ltv("sql", "select count(*) as n from raw_samcart_orders", env_extra=env)
    assert counted.stdout.splitlines() == ["n", "10"], counted.stderr
    assert not [p for p in (home / "archive").iterdir() if p.name.startswith(".")]
    again = ltv("import", str(RECURRING_SAMPLE), env_extra=env)
    assert again.returncode == 0, again.stdout + again.stderr
