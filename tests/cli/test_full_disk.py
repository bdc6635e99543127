"""A full disk under LTV_HOME: `ltv import` and `ltv materialize` say so in one line and exit
non-zero, with no traceback, and what was stored before is intact once there is room again."""

from __future__ import annotations

import errno
from pathlib import Path

from ltv_core.formats.csv_file import sha256_of
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


def test_a_file_too_big_for_the_disk_is_one_plain_line(small_disk: Path, tmp_path: Path):  # noqa: F811
    """The archive copy runs out of room half-way: the disk is to blame, not the file."""
    home = small_disk / "home"
    env = {"LTV_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    assert ltv("import", str(ORDERS_SAMPLE), env_extra=env).returncode == 0
    header, *rows = ORDERS_SAMPLE.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as out:
        out.write(header)
        for copy in range(6000):  # about 10 MB, more than the small disk holds
            out.writelines(f"{copy}{row}" for row in rows)

    _one_clear_line(ltv("import", str(big), env_extra=env), home)

    counted = ltv("sql", "select count(*) as n from raw_samcart_orders", env_extra=env)
    assert counted.stdout.splitlines() == ["n", "10"], counted.stderr
    [archived] = (home / "archive").glob("*.csv")
    assert sha256_of(archived) == archived.stem
    assert not [p for p in (home / "archive").iterdir() if p.name.startswith(".")]
