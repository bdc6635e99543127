"""`ltv import` of damaged exports, as a user runs it (issue 12, items 4-6): the damaged records
are rejects with their reason, and the rest of each file loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEADER = "Order ID,Order Date,Price,Customer Email,Product Name\n"


def row(order_id: int, product: str = "Course") -> str:
    return f"{order_id},01/02/2024,$1,c{order_id}@example.com,{product}\n"


def test_import_keeps_the_good_records_of_damaged_files(ltv_home, tmp_path: Path) -> None:
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text(HEADER + row(1) + row(2, '"Course B') + row(3) + row(4))
    huge = tmp_path / "huge.csv"
    huge.write_text(HEADER + row(1) + row(2, "x" * (20 * 1024 * 1024)) + row(3))
    latin1 = tmp_path / "latin1.csv"
    lines = [row(i) for i in range(1, 3000)]
    lines[2000] = row(2001, "Caf\xe9")
    latin1.write_bytes((HEADER + "".join(lines)).encode("latin-1"))
    nul = tmp_path / "nul.csv"
    nul.write_text(HEADER + "".join(lines[:2500]).replace("Caf\xe9", "Caf\x00e"))
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes((HEADER + row(1, "Caf\xe9") + row(2)).encode("utf-16"))

    files = [unclosed, huge, latin1, nul, utf16]
    done = subprocess.run(
        [sys.executable, "-m", "ltv_pipeline.cli.main", "import", *map(str, files), "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    results = {
        Path(r["file"]).name: r
        for r in (json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{"))
    }
    outcome = {name: (r["status"], r["rows"], r["rejected"]) for name, r in results.items()}
    assert outcome == {
        "unclosed.csv": ("loaded", 1, 1),
        "huge.csv": ("loaded", 2, 1),
        "latin1.csv": ("loaded", 2999, 0),
        "nul.csv": ("loaded", 2499, 1),
        "utf16.csv": ("loaded", 2, 0),
    }, done.stdout + done.stderr
    assert (
        "quote opened on line 3 is not closed before line 5"
        in (results["unclosed.csv"]["first_rejects"][0])
    )
    assert "bytes, over the limit" in results["huge.csv"]["first_rejects"][0]
    assert results["nul.csv"]["first_rejects"][0].startswith("line 2002, column Product Name")
