"""`python -m ltv_webhook [--host H] [--port P]`: the sidecar without importing Dagster."""

from __future__ import annotations

import argparse

from ltv_core.settings import get_settings
from ltv_webhook.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="ltv_webhook", description=__doc__)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    serve(get_settings(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
