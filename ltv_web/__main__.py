"""`python -m ltv_web`: serve the pages (what `ltv run` starts; loads no Dagster code)."""

from __future__ import annotations

import argparse

from ltv_core.settings import get_settings
from ltv_web.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="ltv_web", description=__doc__)
    parser.add_argument("--host", help="address to bind (default LTV_WEB_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default LTV_WEB_PORT or 8686)")
    args = parser.parse_args()
    serve(get_settings(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
