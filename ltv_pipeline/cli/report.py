"""`ltv report ...`: the marts' figures for people and scripts, from the warehouse read-only."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import textwrap
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

from ltv_core.csv_output import write_csv
from ltv_core.settings import Settings
from ltv_pipeline.metrics.definitions import (
    BASES,
    COHORT_STARTS,
    DEFAULT_BASIS,
    DEFAULT_COHORT_START,
    DEFAULT_PERIOD,
    PERIODS,
    MetricOptions,
)
from ltv_pipeline.reports.build import REPORTS, ReportError, UnknownAccount, build_report
from ltv_pipeline.reports.projected import projection_error
from ltv_pipeline.warehouse.connection import open_warehouse

FORMATS = ("table", "csv", "json")
# What each report shows, for `ltv report --help` (the definitions are in the metric notes).
REPORT_DESCRIPTIONS = {
    "overview": "the headline figures: customers, net and gross revenue, the average LTV of all "
    "customers at each horizon, repeat purchase and refund rates, active subscribers and MRR",
    "cohort-ltv": "average revenue per customer by acquisition cohort at day 0, 7, 30, 60, 90, "
    "180, 365 and all time (a cell stays empty until every member is that old)",
    "front-end-products": "LTV by the main product of each customer's first order (a cell "
    "averages over the customers that old, and stays empty below 30 of them)",
    "payment-plans": "booked, collected and outstanding amounts of payment plans, with "
    "completion, capture and default rates",
    "subscriptions": "active subscribers, MRR, 30-day churn and the formula LTV of subscriptions",
    "refunds": "refunded amount / gross charged and refunded orders / orders, by cohort and "
    "by product",
    "purchase-intervals": "median days from a customer's order k to order k+1",
}


def _reports_epilog() -> str:
    width = max(len(name) for name in REPORTS)
    lines = [
        textwrap.fill(
            REPORT_DESCRIPTIONS[name],
            width=78,
            initial_indent=f"  {name.ljust(width)}  ",
            subsequent_indent=" " * (width + 4),
        )
        for name in REPORTS
    ]
    return "reports:\n" + "\n".join(lines)


def add_report_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser(
        "report",
        help="print an LTV report from the warehouse (read-only)",
        description="Print one of the LTV reports, read from the marts the pipeline built.",
        epilog=_reports_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("report", choices=REPORTS, help="which report (see the list below)")
    cmd.add_argument("--account", help="one SamCart account (default: all accounts summed)")
    cmd.add_argument(
        "--basis",
        choices=BASES,
        default=DEFAULT_BASIS,
        help="net = charges minus refunds (default); gross = charges only",
    )
    cmd.add_argument(
        "--period",
        choices=PERIODS,
        default=DEFAULT_PERIOD,
        help="cohort period: month (YYYY-MM, default), ISO week (YYYY-Www) or day",
    )
    cmd.add_argument(
        "--cohort-start",
        choices=[c.replace("_", "-") for c in COHORT_STARTS],
        default=DEFAULT_COHORT_START.replace("_", "-"),
        help="first order of any amount (default) or first order over $0",
    )
    cmd.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the day the data is taken to end (default: latest day in the data)",
    )
    cmd.add_argument(
        "--projected",
        action="store_true",
        help="cohort-ltv, net only: add projected_net_ltv_* columns for the right-censored "
        "cells, from the latest BG/NBD + Gamma-Gamma fit (observed cells are unchanged)",
    )
    cmd.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table for people (default), csv or json for scripts (censored cells empty / null)",
    )
    cmd.set_defaults(handler=run_report)


def print_report(out: TextIO, fmt: str, columns, rows, labels) -> None:
    if fmt == "csv":
        write_csv(out, columns, rows)
    elif fmt == "json":
        out.write(json.dumps([dict(zip(columns, _json_row(r), strict=True)) for r in rows]))
        out.write("\n")
    else:
        texts = [[("" if v is None else str(v)) for v in row] for row in rows]
        widths = [max([len(c), *(len(r[i]) for r in texts)]) for i, c in enumerate(columns)]
        out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + "\n")
        for row in texts:
            out.write("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + "\n")
        out.write("\n" + "\n".join(f"# {label}" for label in labels) + "\n")


def _json_row(row: Sequence[Any]) -> list[Any]:
    """Amounts and rates as JSON numbers, censored cells as null."""
    values: list[Any] = []
    for value in row:
        if value == "":
            values.append(None)
        elif isinstance(value, str):
            try:
                values.append(float(value) if "." in value else value)
            except ValueError:
                values.append(value)
        elif isinstance(value, Decimal):
            values.append(float(value))
        else:
            values.append(value)
    return values


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    options = MetricOptions(
        period=args.period, cohort_start=args.cohort_start.replace("-", "_"), as_of=args.as_of
    )
    if args.projected and (why := projection_error(args.report, args.basis)):
        print(f"ltv report: {why}", file=sys.stderr)
        return 2
    conn = open_warehouse(settings, read_only=True)
    try:
        columns, rows, labels = build_report(
            conn,
            args.report,
            account=args.account,
            basis=args.basis,
            options=options,
            projected=args.projected,
        )
    except UnknownAccount as exc:
        print(f"ltv report: {exc}", file=sys.stderr)
        return 2
    except ReportError as exc:
        print(f"ltv report: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print_report(sys.stdout, args.format, columns, rows, labels)
    return 0
