"""Loading the definitions (every run start, the code server, `ltv materialize`) leaves pandera
for the runs that check a contract: it costs about 0.3 s to import and warm."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_definitions_does_not_import_pandera():
    probe = (
        "import sys, ltv_pipeline.definitions as d; d.build_definitions(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pandera'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
