"""`ltv`: the command line for scripting what the Dagster UI does by hand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ltv_core.disk_full import disk_full
from ltv_core.formats.profiles import load_catalog
from ltv_core.home_layout import keep_files_private
from ltv_core.settings import (
    DEFAULT_ACCOUNT,
    Settings,
    SettingsError,
    get_settings,
)
from ltv_pipeline.warehouse.connection import WarehouseBusy


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from ltv_pipeline.cli.import_files import import_files

    return import_files(
        [Path(f) for f in args.files],
        args.files,
        settings,
        format_name=args.format,
        account=args.account,
        as_json=args.json,
    )


def _materialize(args: argparse.Namespace, settings: Settings) -> int:
    from ltv_core.quarantine import parse_failure, parse_failures
    from ltv_pipeline.cli.import_files import DagsterUnavailable, open_dagster
    from ltv_pipeline.cli.materializing import (
        left_out_of_model,
        materialize_one,
        materialize_together,
        plan,
        predictions_note,
    )

    try:
        instance = open_dagster(settings)
    except DagsterUnavailable as exc:
        print(f"ltv materialize: {exc}", file=sys.stderr)
        return 1
    try:
        work = plan(instance, args.selection, settings, full=args.full)
    except ValueError as exc:
        print(f"ltv materialize: {exc}", file=sys.stderr)
        return 1
    skipped = parse_failures(settings.parse_failures_dir)
    for failure in skipped:
        print(
            f"{failure.asset} [{failure.partition_key}]: skipped, quarantined before: "
            f"{failure.describe()}"
        )
    note = predictions_note(instance, work)
    if not work:
        print("everything is up to date")  # the daily predictions included: not due yet
        _print_left_out(left_out_of_model(settings))
        return 0
    failures = quarantined = 0
    # Raw partitions one run each (a file's failure is its own); then everything built on them
    # (the model, the marts, the published reports) as one run.
    together = [key for key, partition in work if partition is None]
    for asset_key, partition in work:
        if partition is None:
            continue
        outcome = materialize_one(instance, asset_key, partition, full=args.full)
        set_aside = parse_failure(settings.parse_failures_dir, partition)
        if not outcome.success and set_aside is not None:
            # The file's own fault, recorded with its reason: not a failure of the pipeline.
            quarantined += 1
            print(f"{outcome.asset} [{partition}]: quarantined: {set_aside.describe()}")
            continue
        failures += not outcome.success
        print(outcome.describe())
    if together:
        for outcome in materialize_together(instance, together, full=args.full):
            failures += not outcome.success
            print(outcome.describe())
    summary = f"{len(work) - failures - quarantined} succeeded, {failures} failed"
    if quarantined:
        summary += f", {quarantined} quarantined"
    print(summary)
    if note:
        print(note)
    _print_left_out(left_out_of_model(settings))
    return 1 if failures else 0


def _print_left_out(left_out) -> None:
    for partition in left_out:
        print(f"left out of the model until its contract check passes: {partition.describe()}")


def _sql(args: argparse.Namespace, settings: Settings) -> int:
    import duckdb

    from ltv_core.csv_output import write_csv
    from ltv_pipeline.warehouse.connection import open_warehouse

    conn = open_warehouse(settings, read_only=True, warehouse_only=True)
    try:
        cursor = conn.execute(args.query)
        columns = [d[0] for d in cursor.description or []]
        write_csv(sys.stdout, columns, cursor.fetchall())
    except duckdb.PermissionException as exc:
        print(
            "ltv sql: only the warehouse can be queried (no other files, network or "
            f"extensions): {str(exc).strip()}",
            file=sys.stderr,
        )
        return 1
    except duckdb.Error as exc:
        print(f"ltv sql: {str(exc).strip()}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from ltv_pipeline.cli.run_services import run_services

    return run_services(settings)


def _serve_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    from ltv_pipeline.cli.run_services import become_service

    return become_service("ltv_webhook", args.host, args.port)


def _webhook_url(args: argparse.Namespace, settings: Settings) -> int:
    from ltv_pipeline.cli.webhooks import print_webhook_url

    return print_webhook_url(settings, args.base_url, args.account)


def _serve_web(args: argparse.Namespace, settings: Settings) -> int:
    from ltv_pipeline.cli.run_services import become_service

    return become_service("ltv_web", args.host, args.port)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from ltv_pipeline.cli.demo import run_demo

    return run_demo(settings, customers=args.customers, seed=args.seed, webhooks=args.webhooks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ltv", description="Self-hosted LTV pipeline for SamCart (Dagster + DuckDB)."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    cmd = commands.add_parser("import", help="ingest SamCart CSV exports now")
    cmd.add_argument("files", nargs="+", metavar="FILE", help="SamCart CSV export(s) to import")
    cmd.add_argument(
        "--format", choices=sorted(load_catalog().profiles), help="skip format detection"
    )
    cmd.add_argument("--account", default=DEFAULT_ACCOUNT, help="SamCart account (store) name")
    cmd.add_argument("--json", action="store_true", help="one JSON object per file per line")
    cmd.set_defaults(handler=_import)

    cmd = commands.add_parser("materialize", help="materialize assets headless")
    cmd.add_argument(
        "selection", nargs="?", help="Dagster asset selection, e.g. 'key:raw_samcart_orders'"
    )
    cmd.add_argument(
        "--full",
        action="store_true",
        help="rebuild from scratch the unified model, every mart and published_reports, and "
        "refit the predictions, even if nothing is due (raw partitions are not re-parsed "
        "unless a selection asks for them)",
    )
    cmd.set_defaults(handler=_materialize)

    cmd = commands.add_parser("sql", help="run a read-only query, print CSV")
    cmd.add_argument("query", help="a SELECT over the warehouse's tables, e.g. 'FROM cohort_ltv'")
    cmd.set_defaults(handler=_sql)

    from ltv_pipeline.cli.report import add_report_parser

    add_report_parser(commands)

    from ltv_pipeline.cli.predict import add_predict_parser

    add_predict_parser(commands)

    cmd = commands.add_parser(
        "run", help="start the Dagster UI and daemon, the webhook receiver and the pages"
    )
    cmd.set_defaults(handler=_run)

    cmd = commands.add_parser("serve-webhooks", help="run the SamCart webhook receiver")
    cmd.add_argument("--host", help="address to bind (default LTV_WEBHOOK_HOST or 127.0.0.1)")
    cmd.add_argument("--port", type=int, help="port (default LTV_WEBHOOK_PORT or 8787)")
    cmd.set_defaults(handler=_serve_webhooks)

    cmd = commands.add_parser("serve-web", help="serve the upload and report pages")
    cmd.add_argument("--host", help="address to bind (default LTV_WEB_HOST or 127.0.0.1)")
    cmd.add_argument("--port", type=int, help="port (default LTV_WEB_PORT or 8686)")
    cmd.set_defaults(handler=_serve_web)

    cmd = commands.add_parser(
        "demo", help="fill LTV_HOME with a synthetic SamCart business (exports + webhooks)"
    )
    cmd.add_argument("--customers", type=int, default=3000, help="how many customers (3000)")
    cmd.add_argument("--seed", type=int, default=7, help="random seed, for the same business")
    cmd.add_argument(
        "--webhooks",
        type=int,
        default=400,
        help="webhook deliveries to post to the webhook receiver",
    )
    cmd.set_defaults(handler=_demo)

    cmd = commands.add_parser("webhook-url", help="print the URL to paste into SamCart")
    cmd.add_argument("--base-url", help="public base URL, e.g. https://ltv.example.com")
    cmd.add_argument("--account", default=DEFAULT_ACCOUNT, help="SamCart account (store) name")
    cmd.set_defaults(handler=_webhook_url)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    keep_files_private()
    args = build_parser().parse_args(argv)
    home: Path | None = None
    try:
        settings = get_settings()
        home = settings.home
        settings.export_dagster_env()
        return args.handler(args, settings)
    except SettingsError as exc:
        print(f"ltv: {exc}", file=sys.stderr)
        return 2
    except WarehouseBusy:
        print("warehouse busy", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`ltv report ... | head`): not an error worth a trace.
        sys.stderr.close()
        return 0
    except Exception as exc:
        # A full disk can surface anywhere (our writes, DuckDB, Dagster's SQLite): one line.
        full = disk_full(exc, home) if home is not None else None
        if full is None:
            raise
        print(f"ltv: {full}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
