"""`ltv predict`: the BG/NBD and Gamma-Gamma fit of an account. Without a calibration end, the
stored daily fit (the `ltv_model_fits` asset), so the command shows what the pipeline's
predictions are made from; with one, a fit on the warehouse (read-only) up to that day, with a
holdout check when later days leave something to compare against."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TextIO

import duckdb

from ltv_core.settings import Settings
from ltv_pipeline.metrics.as_of import data_as_of_day
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
        help="fit on the data up to this day (at most its latest day), compare with the days "
        "after it (default: the stored daily fit, ltv_model_fits: every day in the data, no "
        "holdout)",
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
        if args.calibration_end is None:
            return _print(args, *_stored(args, conn))
        latest = data_as_of_day(conn)
        if latest is not None and args.calibration_end > latest:
            # T would count the unseen days as days without a purchase: every customer would
            # look like they had left, and the fit would say so with confidence.
            print(
                f"ltv predict: --calibration-end {args.calibration_end} is after the latest day "
                f"in the data ({latest}); a fit can only use days that were seen",
                file=sys.stderr,
            )
            return 2
        result = predict(conn, args.account, args.calibration_end, args.time_unit)
    finally:
        conn.close()
    return _print(args, result, 0)


def _print(args: argparse.Namespace, result: dict | None, code: int) -> int:
    if result is None:
        return code
    if args.format == "json":
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        print_table(sys.stdout, result)
    return code


def _stored(args: argparse.Namespace, conn: duckdb.DuckDBPyConnection) -> tuple[dict | None, int]:
    """The stored fit of the account (or of the only one); an exit code and a message when
    there is none yet or the account must be named."""
    from ltv_pipeline.metrics.predictive.account_fits import fits_exist, read_fits
    from ltv_pipeline.metrics.predictive.stored_prediction import stored_prediction

    fits = read_fits(conn, args.account) if fits_exist(conn) else []
    if not fits and args.account is not None and fits_exist(conn):
        known = [f.account for f in read_fits(conn)]
        print(
            f"ltv predict: no stored fit for account {args.account!r}; "
            f"fitted: {', '.join(known) or '(none)'}",
            file=sys.stderr,
        )
        return None, 2
    if not fits:
        print(_NO_PURCHASES if fits_exist(conn) else _NO_FIT, file=sys.stderr)
        return None, 1
    if len(fits) > 1:
        print(
            "ltv predict: the stored fits are per account; pass --account (one of "
            f"{', '.join(f.account for f in fits)})",
            file=sys.stderr,
        )
        return None, 2
    return stored_prediction(conn, fits[0], args.time_unit), 0


_NO_FIT = (
    "ltv predict: no stored fit yet (the ltv_model_fits asset was never materialized): run "
    "`ltv materialize` (it builds the predictions when they are missing), or pass "
    "--calibration-end YYYY-MM-DD to fit now"
)

_NO_PURCHASES = (
    "ltv predict: the stored fit covers no account: no customer had a successful order by its "
    "calibration end"
)


def _model_lines(name: str, model: dict, parameters: tuple[str, ...]) -> list[str]:
    if not model["reliable"]:
        return [f"{name}: not reliable, no parameters: {model['reason']}"]
    values = ", ".join(f"{p} = {model[p]:.4g}" for p in parameters)
    return [f"{name}: {values}"]


def print_table(out: TextIO, result: dict) -> None:
    bg, gg, holdout = result["bgnbd"], result["gamma_gamma"], result["holdout"]
    lines = [
        *(
            [f"stored fit of {result['account']}, fitted at {result['fitted_at']}"]
            if "fitted_at" in result
            else []
        ),
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
