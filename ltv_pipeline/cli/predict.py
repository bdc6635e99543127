"""`ltv predict`: BG/NBD and Gamma-Gamma fitted on the warehouse (read-only), with a holdout
check when the calibration end leaves later days to compare against."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TextIO

from ltv_core.settings import Settings
from ltv_pipeline.metrics.predictive.summaries import TIME_UNITS
from ltv_pipeline.reports.build import MODEL_TABLES, known_accounts
from ltv_pipeline.warehouse.connection import open_warehouse


def add_predict_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser(
        "predict", help="fit BG/NBD and Gamma-Gamma (predictive LTV) and check them (read-only)"
    )
    cmd.add_argument("--account", help="one SamCart account (default: every account's customers)")
    cmd.add_argument(
        "--calibration-end",
        type=dt.date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="fit on the data up to this day, compare with the days after it "
        "(default: every day in the data, no holdout)",
    )
    cmd.add_argument(
        "--time-unit",
        choices=tuple(TIME_UNITS),
        default="day",
        help="the unit of recency, T and the fitted rates (default: day; week = days / 7)",
    )
    cmd.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table: a readable summary (default); json: one object with every figure",
    )
    cmd.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace, settings: Settings) -> int:
    # scipy is imported here, not with the parser: every other `ltv` command would pay for it.
    from ltv_pipeline.metrics.predictive.prediction import predict

    conn = open_warehouse(settings, read_only=True)
    try:
        present = {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        missing = [t for t in MODEL_TABLES if t not in present]
        if missing:
            print(
                f"ltv predict: the unified model is not built yet (missing {', '.join(missing)}): "
                "run `ltv materialize` first",
                file=sys.stderr,
            )
            return 1
        if args.account is not None and args.account not in (known := known_accounts(conn)):
            print(
                f"ltv predict: unknown account {args.account!r}; "
                f"known: {', '.join(known) or '(none yet)'}",
                file=sys.stderr,
            )
            return 2
        result = predict(conn, args.account, args.calibration_end, args.time_unit)
    finally:
        conn.close()
    if args.format == "json":
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        print_table(sys.stdout, result)
    return 0


def _model_lines(name: str, model: dict, parameters: tuple[str, ...]) -> list[str]:
    if not model["reliable"]:
        return [f"{name}: not reliable, no parameters: {model['reason']}"]
    values = ", ".join(f"{p} = {model[p]:.4g}" for p in parameters)
    return [f"{name}: {values}"]


def print_table(out: TextIO, result: dict) -> None:
    bg, gg, holdout = result["bgnbd"], result["gamma_gamma"], result["holdout"]
    lines = [
        f"calibration end: {result['calibration_end']} (time in {result['time_unit']}s)",
        f"customers: {result['customers']}",
        *_model_lines("BG/NBD (purchases)", bg, ("r", "alpha", "a", "b")),
    ]
    if bg["reliable"]:
        lines.append(f"  log-likelihood: {bg['log_likelihood']:.1f}")
    lines += _model_lines("Gamma-Gamma (value)", gg, ("p", "q", "gamma"))
    lines.append(f"  repeat customers with a positive mean value: {gg['customers']}")
    if holdout is None:
        lines.append("holdout: none (no days after the calibration end)")
    else:
        predicted = holdout["predicted_repeat_purchases"]
        lines.append(
            f"holdout to {holdout['end']}: repeat purchase days predicted "
            f"{'n/a' if predicted is None else f'{predicted:.1f}'}, "
            f"actual {holdout['actual_repeat_purchases']}"
        )
    lines.append(f"# {result['left_out']}")
    out.write("\n".join(lines) + "\n")
