"""Everything under LTV_HOME is its user's alone: files 0600, folders 0700, also in a home made
before this was so; links in it are never followed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.cli.test_ltv_cli import ltv
from tests.support import ORDERS_SAMPLE


def _modes(home: Path) -> dict[str, int]:
    """Every file's and folder's permission bits, by path under the home (links skipped)."""
    found = {}
    for folder, folders, files in os.walk(home):
        for name in [*folders, *files]:
            path = Path(folder, name)
            if not path.is_symlink():
                found[str(path.relative_to(home))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _not_private(home: Path) -> dict[str, str]:
    return {
        name: oct(mode)
        for name, mode in _modes(home).items()
        if mode != (0o700 if (home / name).is_dir() else 0o600)
    }


def test_a_new_home_and_an_old_one_are_private(tmp_path: Path):
    home = tmp_path / "home"
    env = {"LTV_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    assert ltv("import", str(ORDERS_SAMPLE), env_extra=env).returncode == 0
    assert ltv("materialize", env_extra=env).returncode == 0
    modes = _modes(home)
    assert "warehouse.duckdb" in modes and any(n.endswith("runs.db") for n in modes), modes
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert _not_private(home) == {}

    # A home from before: readable by everyone, with a link in it to a file of the user's.
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("mine\n")
    outside.chmod(0o644)
    (home / "inbox" / "store-b").mkdir()
    (home / "inbox" / "store-b" / "link.csv").symlink_to(outside)
    for path in [home, *home.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert ltv("sql", "select 1", env_extra=env).returncode == 0
    assert _not_private(home) == {}
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644, "a link is never followed"


def test_an_old_home_already_0700_is_made_private_once(tmp_path: Path):
    """The home folder's own mode says nothing about the files in it: a marker does."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    old = home / "x.csv"
    old.write_text(ORDERS_SAMPLE.read_text(encoding="utf-8-sig"))
    old.chmod(0o644)
    env = {"LTV_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    assert ltv("sql", "select 1", env_extra=env).returncode == 0
    assert _not_private(home) == {}
    assert (home / ".private-v1").is_file()

    # Walked once: a file opened up afterwards, by the user, is left as the user set it.
    old.chmod(0o644)
    assert ltv("sql", "select 1", env_extra=env).returncode == 0
    assert stat.S_IMODE(old.stat().st_mode) == 0o644
