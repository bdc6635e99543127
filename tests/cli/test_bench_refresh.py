"""bench/bench_refresh.py at a tiny size, end to end, so that the benchmark of issue 14's targets
keeps running while the model and the marts change under it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_refresh_prints_its_three_ratios_and_identical_tables(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_refresh.py"),
            "--lines",
            "300",
            "--deliveries",
            "3",
            "--quick",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for figure in ("refresh ratio (A/B)", "end to end ratio", "report ratio"):
        assert re.search(rf"^{re.escape(figure)} +\d+\.\d+ +<=", out, re.M), out
    assert "3 deliveries landed" in out, out
    assert "tables identical: yes" in out, out
    assert "the query's cohort table agrees with the report's: yes" in out, out
    compared = re.search(r"^compared (\d+) tables", out, re.M)
    assert compared and int(compared[1]) >= 10, out  # the model and the marts, not a few
    assert not list(tmp_path.iterdir()), "the generated data is left behind"
