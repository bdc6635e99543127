"""Browser test setup: Debian's chromium (installed with apt-get when missing) and Playwright
for Python (a dev dependency; installed with pip when missing). Playwright's own browser download
does not work here, so it drives /usr/bin/chromium through `executable_path`.

Under CI (any true CI value) the browser tests must run: a setup that fails is an error, never
a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import skip_unless_ci

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _ensure_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        skip_unless_ci("chromium is missing; install it with: apt-get install chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            skip_unless_ci(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return CHROMIUM


def _ensure_playwright() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "playwright"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            skip_unless_ci(f"pip install playwright failed: {done.stderr.strip()[-500:]}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A headless Chromium with a new, empty profile."""
    executable = _ensure_chromium()
    _ensure_playwright()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(executable),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 860},
        )
        try:
            yield context
        finally:
            context.close()
