"""File partition keys: `<account>_<sha256>`, one per (account, file content)."""

from __future__ import annotations

import re

_KEY = re.compile(r"^(?P<account>[a-z0-9][a-z0-9_-]{0,63})_(?P<sha256>[0-9a-f]{64})$")


def file_partition_key(account: str, sha256: str) -> str:
    return f"{account}_{sha256}"


def parse_file_partition_key(key: str) -> tuple[str, str]:
    """(account, sha256); the hash is the last `_`-separated part, so accounts may hold `_`."""
    match = _KEY.match(key)
    if match is None:
        raise ValueError(f"not a file partition key: {key!r}; expected <account>_<sha256>")
    return match["account"], match["sha256"]
