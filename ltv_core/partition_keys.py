"""File partition keys: one per (account, file content), readable in the Dagster UI.

A key reads `<account> · <day received> · <file name> · <hash>`, e.g.
`default · 2026-12-06 · samcart_orders_example.csv · 9a94fa20`, so every partition list, backfill
dialog and run page says which file it is. The hash part is the first 8 hex digits of the
content's sha256 (all 64 when another content of the account already starts with them), which
keeps two files of the same name distinct. A key is made once, when the content first arrives for
the account, and kept in the archive's record of that arrival (ltv_core/archive.py): the same
content for the same account always has the same key, whatever it is called next time.

Homes from before keys carried names have partitions, materializations, quarantine records and
left-out verdicts under `<account>_<sha256>`; those keys stay as they are (Dagster's history is
keyed by them) and both forms parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEPARATOR = " · "
SHORT_HASH = 8
NAME_LENGTH = 80
_ACCOUNT = r"[a-z0-9][a-z0-9_-]{0,63}"
_OLD_KEY = re.compile(rf"^(?P<account>{_ACCOUNT})_(?P<sha256>[0-9a-f]{{64}})$")
_KEY = re.compile(
    rf"^(?P<account>{_ACCOUNT}) · (?P<day>\d{{4}}-\d{{2}}-\d{{2}}) · (?P<name>.+) · "
    rf"(?P<hash>[0-9a-f]{{{SHORT_HASH}}}|[0-9a-f]{{64}})$"
)
# Dagster refuses "..." and control characters in a key; its UI reads "," as a list and "[...]" as
# a range; the key also names a quarantine record file, so no "/" either.
_UNSAFE = re.compile(r"[^\w .()+&=@#-]+")


@dataclass(frozen=True)
class FilePartition:
    """What a key says. `hash` is the whole sha256 or its first SHORT_HASH digits; `file_name`
    is None for an old-form key."""

    account: str
    hash: str
    file_name: str | None = None

    @property
    def sha256(self) -> str | None:
        """The content's sha256 when the key holds all of it; else the archive knows it."""
        return self.hash if len(self.hash) == 64 else None


def readable_file_name(file_name: str) -> str:
    """The file's own name (not its inbox folder), made safe for a key."""
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name.replace("·", "-"))
    name = re.sub(r"\.{2,}", ".", re.sub(r"\s+", " ", name)).strip()
    return name[:NAME_LENGTH].strip() or "file"


def file_partition_key(
    account: str, sha256: str, file_name: str, received_on: str, *, full_hash: bool = False
) -> str:
    """A new content's key; `received_on` is the day (YYYY-MM-DD) it first arrived."""
    digits = sha256 if full_hash else sha256[:SHORT_HASH]
    return SEPARATOR.join([account, received_on, readable_file_name(file_name), digits])


def old_file_partition_key(account: str, sha256: str) -> str:
    """The key of a content archived before keys carried names: `<account>_<sha256>`."""
    return f"{account}_{sha256}"


def parse_file_partition_key(key: str) -> FilePartition:
    """Either form; the account is the first part (old form: all before the hash's `_`)."""
    match = _KEY.match(key)
    if match is not None:
        return FilePartition(match["account"], match["hash"], match["name"])
    match = _OLD_KEY.match(key)
    if match is not None:
        return FilePartition(match["account"], match["sha256"])
    raise ValueError(
        f"not a file partition key: {key!r}; expected '<account> · <YYYY-MM-DD> · <file name> · "
        "<hash>' or, from before names, '<account>_<sha256>'"
    )
