"""The Dagster UI's asset graph, in headless Chromium against a real dagster-webserver over the
project's workspace: the raw assets' names are shown whole (the two subscription assets were
once both cut to `raw…_subscriptions`), a zoomed-out graph shortens names as
tests/defs/test_asset_names.py expects, and the instance `ltv` makes opens without Dagster's
"Join the community" window."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ltv_core.settings import Settings
from ltv_pipeline.definitions import defs
from tests.defs.test_asset_names import ZOOMED_OUT, shortened
from tests.support import free_port

WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"
STARTUP_SECONDS = 120


@pytest.fixture
def dagster_ui(ltv_home: Settings) -> Iterator[str]:
    """dagster-webserver on a free loopback port, over the home `ltv` laid out."""
    port = free_port()
    command = [sys.executable, "-m", "dagster_webserver", "-w", str(WORKSPACE)]
    process = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, "dagster-webserver exited early"
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/server_info", timeout=2).close()
                break
            assert time.monotonic() < deadline, "dagster-webserver did not start"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _group_assets(group: str) -> set[str]:
    graph = defs.resolve_asset_graph()
    return {node.key.path[-1] for node in graph.asset_nodes if node.group_name == group}


def _open_group(page, url: str, group: str) -> None:
    page.goto(f"{url}/locations/ltv_pipeline/asset-groups/{group}")
    page.wait_for_selector("[data-tooltip], [class*=minimalName]", timeout=60_000)
    time.sleep(1)  # the graph lays itself out once more after its first nodes show


def test_the_raw_assets_names_are_shown_whole(browser, dagster_ui: str):
    """The complaint: two nodes of the raw group read `raw…_subscriptions` alike."""
    page = browser.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    try:
        _open_group(page, dagster_ui, "raw_samcart")
        assets = _group_assets("raw_samcart")
        for name in assets:  # a full-size node carries its whole name as a tooltip
            page.wait_for_selector(f'[data-tooltip="{name}"]', timeout=60_000)
        shown = page.evaluate(
            "() => Array.from(document.querySelectorAll('[data-tooltip]'))"
            ".map(e => [e.getAttribute('data-tooltip'), e.innerText.trim()])"
        )
        assert {tip: text for tip, text in shown if tip in assets} == {n: n for n in assets}
        assert page.get_by_text("Join the Dagster community").count() == 0
    finally:
        page.close()


def test_the_zoomed_out_graph_shortens_names_as_the_name_test_expects(browser, dagster_ui: str):
    """The marts' group is drawn zoomed out: the labels shown are the shortening that
    tests/defs/test_asset_names.py checks every asset name against, and no two alike."""
    page = browser.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    try:
        _open_group(page, dagster_ui, "ltv_marts")
        shown = page.evaluate(
            "() => Array.from(document.querySelectorAll('[class*=minimalName]'))"
            ".map(e => e.innerText.trim())"
        )
        expected = {shortened(name, ZOOMED_OUT) for name in _group_assets("ltv_marts")}
        assert len(shown) >= 3
        assert set(shown) <= expected
        assert any("…" in label for label in shown)  # the case the re-stated rule is for
        assert len(set(shown)) == len(shown)
    finally:
        page.close()
