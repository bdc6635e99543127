"""What `ltv ... --help` tells a new user: every report and option explained, in their words."""

from __future__ import annotations

import argparse
import subprocess
import sys

from ltv_pipeline.cli.main import build_parser
from ltv_pipeline.reports.build import REPORTS


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("ltv has no subcommands")


def test_every_option_of_every_command_has_help_text():
    missing = [
        f"ltv {name} {action.dest}"
        for name, command in _subcommands(build_parser()).items()
        for action in command._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert missing == []


def test_report_help_says_what_each_report_is():
    shown = subprocess.run(
        [sys.executable, "-m", "ltv_pipeline.cli.main", "report", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for report in REPORTS:
        described = [line for line in shown.splitlines() if line.startswith(f"  {report}  ")]
        assert described, f"{report} is not described in:\n{shown}"
    assert "median days from a customer's order k to order k+1" in shown


def test_no_help_text_says_sidecar():
    parser = build_parser()
    texts = [parser.format_help()]
    texts += [command.format_help() for command in _subcommands(parser).values()]
    said = [text for text in texts if "sidecar" in text.lower()]
    assert said == []
