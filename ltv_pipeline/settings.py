"""The one settings object: every path, limit and parsing choice comes from here.

All runtime state lives under one root folder, LTV_HOME, so that a user can back it up, move it,
or throw it away as a unit. Everything has a default that works with no setup.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ltv_pipeline.lib.atomic_files import remove_abandoned_temp_files, write_atomically
from ltv_pipeline.metrics.definitions import CUSTOMER_KEY_RULES, DEFAULT_CUSTOMER_KEY_RULE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = PROJECT_ROOT / "ltv_home"
DEFAULT_ACCOUNT = "default"
DEFAULT_WAREHOUSE_MEMORY_LIMIT = "60%"
ACCOUNT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DATE_ORDERS = ("MDY", "DMY", "YMD")
PRIVATE_UMASK = 0o077
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700
PRIVATE_MARKER = ".private-v1"  # in LTV_HOME once make_private has walked it
# The names the pages answer to by default: a browser on this machine. Any other Host header is
# refused, so a web page whose DNS name is rebound to 127.0.0.1 cannot read or post to them.
LOOPBACK_HOST_NAMES = ("localhost", "127.0.0.1", "[::1]")
# Bind addresses that mean "every interface": they name no host a browser would send.
ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")
HOST_NAME = re.compile(r"[a-z0-9._-]+")
# A record of an export over this size is rejected (with its size) rather than loaded; one
# runaway cell must not fail the file or fill memory. 2 MiB is far above any real record.
DEFAULT_MAX_RECORD_BYTES = 2 * 1024 * 1024
MIN_MAX_RECORD_BYTES = 1024

DAGSTER_YAML = """\
# Written by ltv on first use; edit freely, it is not overwritten once edited.
telemetry:
  enabled: false
# One run at a time: a DuckDB file has exactly one writer process.
concurrency:
  runs:
    max_concurrent_runs: 1
# A run whose worker died (killed, a power cut) is run again, so a dropped file, archived and
# gone from the inbox, still loads. A step that failed on its data is not: it would fail again.
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
"""
# Earlier defaults, word for word: a home's dagster.yaml that equals one of them was never edited,
# so it is replaced by the current default; any other text is the user's and is kept.
PREVIOUS_DAGSTER_YAMLS = (
    """\
# Written by ltv on first use; edit freely, it is not overwritten.
telemetry:
  enabled: false
# One run at a time: a DuckDB file has exactly one writer process.
concurrency:
  runs:
    max_concurrent_runs: 1
""",
)


def keep_files_private() -> None:
    """Every file a process of ours creates is its user's alone (0600, folders 0700).

    LTV_HOME holds customers' emails (the warehouse, the archive, sealed webhook segments,
    Dagster's run history with mart previews) and the webhook tokens. Each entry point calls
    this first: the ltv CLI, the webhook sidecar, the pages, and Dagster's code location.
    """
    os.umask(PRIVATE_UMASK)


def make_private(home: Path) -> None:
    """Make a home created before files were kept private (or by a process that did not keep
    them so) private: every file 0600, every folder 0700, symbolic links left alone and never
    followed. A marker file written after the walk says it was done, so it runs once per home
    even when the home folder was already 0700 (and again if the home is opened up later)."""
    marker = home / PRIVATE_MARKER
    if marker.exists() and stat.S_IMODE(home.lstat().st_mode) == PRIVATE_FOLDER_MODE:
        return
    for folder, folders, files in os.walk(home):
        for name in folders:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(PRIVATE_FOLDER_MODE)
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(PRIVATE_FILE_MODE)
    home.chmod(PRIVATE_FOLDER_MODE)
    os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))


class SettingsError(ValueError):
    """A setting has a value the software cannot work with."""


def validate_account(name: str) -> str:
    """Account names become folder names and partition keys, so they stay in a safe alphabet."""
    if not ACCOUNT_PATTERN.match(name):
        raise SettingsError(
            f"invalid account name {name!r}: expected 1-64 characters of lower-case letters, "
            "digits, '_' or '-', starting with a letter or digit"
        )
    return name


def _env_int(env: dict[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r}: expected a whole number") from None


def _env_float(env: dict[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r}: expected a number") from None


def _env_positive_float(env: dict[str, str], key: str, default: float) -> float:
    value = _env_float(env, key, default)
    if not value > 0:
        raise SettingsError(f"{key}={env.get(key)!r}: expected a number of seconds above 0")
    return value


def _env_date(env: dict[str, str], key: str, default: str) -> str:
    raw = env.get(key) or default
    try:
        date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r}: expected a date as YYYY-MM-DD") from None
    return raw


MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*(%|[KMGT]i?B|B)", re.IGNORECASE)


def _env_memory_limit(env: dict[str, str], key: str, default: str) -> str:
    raw = (env.get(key) or default).strip()
    if not MEMORY_LIMIT.fullmatch(raw):
        raise SettingsError(
            f"{key}={raw!r}: expected a share of this machine's memory such as 60% or a size "
            "such as 8GB or 512MiB"
        )
    return raw


def _host_name(name: str) -> str:
    """How a browser writes the host in its Host header: lower case, IPv6 in brackets."""
    name = name.strip().lower()
    try:
        return f"[{ipaddress.IPv6Address(name.removeprefix('[').removesuffix(']'))}]"
    except ValueError:
        return name


def _env_host_names(env: dict[str, str], key: str) -> tuple[str, ...]:
    raw = env.get(key) or ""
    names = tuple(_host_name(n) for n in raw.split(",") if n.strip())
    for name in names:
        ipv6 = name.startswith("[") and name.endswith("]") and ":" in name  # see _host_name
        wildcard = name.startswith("*.") and "*" not in name[1:]
        if name != "*" and not wildcard and not ipv6 and not HOST_NAME.fullmatch(name):
            raise SettingsError(
                f"{key}={raw!r}: {name!r} is not a host name; expected names separated by "
                "commas, without scheme or port (e.g. localhost,ltv.example.lan, or "
                "*.example.lan for every name in a domain)"
            )
    return names


@dataclass(frozen=True)
class Settings:
    home: Path = DEFAULT_HOME
    date_order: str = "MDY"
    timezone: str = "UTC"
    busy_timeout_seconds: float = 60.0
    # The most memory a warehouse connection may use (DuckDB's memory_limit; it spills or fails
    # past it), so one bad input fails its run instead of the machine.
    warehouse_memory_limit: str = DEFAULT_WAREHOUSE_MEMORY_LIMIT
    inbox_settle_seconds: float = 2.0
    webhook_max_body_bytes: int = 1024 * 1024
    # A body not fully received this long after its request began is answered 408, and headers
    # not complete this long after their first byte (or the connection's start) close the
    # connection: a sender trickling bytes must not hold a request open.
    webhook_body_timeout_seconds: float = 10.0
    dagster_host: str = "127.0.0.1"
    dagster_port: int = 3000
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8787
    webhook_seal_seconds: float = 2.0
    webhook_commit_interval_ms: float = 5.0
    webhook_start_date: str = "2024-01-01"
    # The upload and report pages: their own listener, never the webhook one (only that one may
    # be exposed to the internet).
    web_host: str = "127.0.0.1"
    web_port: int = 8686
    web_max_upload_bytes: int = 512 * 1024 * 1024
    # LTV_WEB_ALLOWED_HOSTS (comma-separated): the Host names the pages answer; empty means the
    # loopback names plus web_host. Read it through `web_allowed_hosts`.
    web_allowed_host_names: tuple[str, ...] = ()
    # The public base URL SamCart calls (e.g. https://ltv.example.com); empty: the local address.
    webhook_public_url: str = ""
    # Which email makes a customer: "email" (trimmed, case-folded) or "gmail-folded".
    customer_key_rule: str = DEFAULT_CUSTOMER_KEY_RULE
    # The largest record of an imported file, in bytes (LTV_MAX_RECORD_BYTES).
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = Path(env.get("LTV_HOME") or DEFAULT_HOME).expanduser().resolve()
        date_order = (env.get("LTV_DATE_ORDER") or "MDY").upper()
        if date_order not in DATE_ORDERS:
            raise SettingsError(
                f"LTV_DATE_ORDER={date_order!r}: expected one of {', '.join(DATE_ORDERS)}"
            )
        timezone = env.get("LTV_TIMEZONE") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"LTV_TIMEZONE={timezone!r}: expected an IANA time zone such as America/New_York"
            ) from None
        customer_key_rule = env.get("LTV_CUSTOMER_KEY") or DEFAULT_CUSTOMER_KEY_RULE
        if customer_key_rule not in CUSTOMER_KEY_RULES:
            raise SettingsError(
                f"LTV_CUSTOMER_KEY={customer_key_rule!r}: expected one of "
                f"{', '.join(CUSTOMER_KEY_RULES)}"
            )
        max_record_bytes = _env_int(env, "LTV_MAX_RECORD_BYTES", DEFAULT_MAX_RECORD_BYTES)
        if max_record_bytes < MIN_MAX_RECORD_BYTES:
            raise SettingsError(
                f"LTV_MAX_RECORD_BYTES={max_record_bytes}: expected a number of bytes of at least "
                f"{MIN_MAX_RECORD_BYTES}"
            )
        return cls(
            home=home,
            date_order=date_order,
            timezone=timezone,
            busy_timeout_seconds=_env_float(env, "LTV_BUSY_TIMEOUT_SECONDS", 60.0),
            warehouse_memory_limit=_env_memory_limit(
                env, "LTV_WAREHOUSE_MEMORY_LIMIT", DEFAULT_WAREHOUSE_MEMORY_LIMIT
            ),
            inbox_settle_seconds=_env_float(env, "LTV_INBOX_SETTLE_SECONDS", 2.0),
            webhook_max_body_bytes=_env_int(env, "LTV_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024),
            webhook_body_timeout_seconds=_env_positive_float(
                env, "LTV_WEBHOOK_BODY_TIMEOUT_SECONDS", 10.0
            ),
            dagster_host=env.get("LTV_DAGSTER_HOST") or "127.0.0.1",
            dagster_port=_env_int(env, "LTV_DAGSTER_PORT", 3000),
            webhook_host=env.get("LTV_WEBHOOK_HOST") or "127.0.0.1",
            webhook_port=_env_int(env, "LTV_WEBHOOK_PORT", 8787),
            webhook_seal_seconds=_env_float(env, "LTV_WEBHOOK_SEAL_SECONDS", 2.0),
            webhook_commit_interval_ms=_env_float(env, "LTV_WEBHOOK_COMMIT_INTERVAL_MS", 5.0),
            webhook_start_date=_env_date(env, "LTV_WEBHOOK_START_DATE", "2024-01-01"),
            web_host=env.get("LTV_WEB_HOST") or "127.0.0.1",
            web_port=_env_int(env, "LTV_WEB_PORT", 8686),
            web_max_upload_bytes=_env_int(env, "LTV_WEB_MAX_UPLOAD_BYTES", 512 * 1024 * 1024),
            web_allowed_host_names=_env_host_names(env, "LTV_WEB_ALLOWED_HOSTS"),
            webhook_public_url=env.get("LTV_WEBHOOK_PUBLIC_URL") or "",
            customer_key_rule=customer_key_rule,
            max_record_bytes=max_record_bytes,
        )

    @property
    def web_allowed_hosts(self) -> tuple[str, ...]:
        """The Host names (without port) the pages answer; every other Host gets a 400."""
        if self.web_allowed_host_names:
            return self.web_allowed_host_names
        own = _host_name(self.web_host)
        if own in ANY_ADDRESS or own in LOOPBACK_HOST_NAMES:
            return LOOPBACK_HOST_NAMES
        return (*LOOPBACK_HOST_NAMES, own)

    @property
    def web_url(self) -> str:
        """The pages' address for a browser on this machine: a name they answer to, so an
        every-interface bind (0.0.0.0) is shown as 127.0.0.1."""
        own = _host_name(self.web_host)
        host = "127.0.0.1" if own in ANY_ADDRESS else own
        return f"http://{host}:{self.web_port}"

    def webhook_base_url(self, base_url: str | None = None) -> str:
        """Where SamCart reaches the receiver, one rule for the CLI and the pages: a base URL
        given on the command line, else LTV_WEBHOOK_PUBLIC_URL, else the local listener."""
        return (
            base_url or self.webhook_public_url or f"http://{self.webhook_host}:{self.webhook_port}"
        ).rstrip("/")

    def webhook_url(self, token: str, base_url: str | None = None) -> str:
        """The Notify URL to paste into SamCart for one account's token."""
        return f"{self.webhook_base_url(base_url)}/webhooks/samcart/{token}"

    # Every path below is derived from `home`; nothing else in the code builds a state path.
    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def inbox_dir(self) -> Path:
        return self.home / "inbox"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"

    @property
    def parse_failures_dir(self) -> Path:
        """One record per archived file that failed while its rows were parsed (which partition,
        why, where its quarantined copy is), so that runs skip it instead of retrying it."""
        return self.quarantine_dir / ".parse_failures"

    @property
    def results_dir(self) -> Path:
        return self.home / "results"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def run_owners_dir(self) -> Path:
        """One lock file per live `ltv` process running Dagster runs in-process: a lock that
        can be taken means its runs were orphaned (see lib/run_owners.py)."""
        return self.home / "run_owners"

    @property
    def webhooks_dir(self) -> Path:
        """The sidecar's landing segments: active/, sealed/ (ready to import), imported/."""
        return self.home / "webhooks"

    @property
    def webhook_tokens_path(self) -> Path:
        """Secret URL tokens per account (file mode 0600)."""
        return self.home / "webhook_tokens.json"

    @property
    def uploads_dir(self) -> Path:
        """One small JSON record per file uploaded through the web page (name, hash, time)."""
        return self.home / "uploads"

    @property
    def published_dir(self) -> Path:
        """Report rows the pipeline publishes after the marts change; the report page reads
        only these, so it never opens (or locks) the warehouse."""
        return self.home / "published"

    @property
    def formats_config_path(self) -> Path:
        """Where a user adds header aliases and status spellings without touching code."""
        return self.home / "formats.toml"

    def ensure_layout(self) -> None:
        """Create the state folders and a Dagster home with telemetry off; idempotent.

        Cheap enough for every start and every sensor tick: a home made private once is only
        looked at (one stat), and a killed archive copy's leftovers are found by name.
        """
        for folder in (
            self.home,
            self.inbox_dir,
            self.archive_dir,
            self.quarantine_dir,
            self.results_dir,
            self.dagster_home,
        ):
            folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
        make_private(self.home)
        for folder in (self.archive_dir, self.results_dir, self.dagster_home):
            remove_abandoned_temp_files(folder)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists() or dagster_yaml.read_text() in PREVIOUS_DAGSTER_YAMLS:
            write_atomically(dagster_yaml, lambda out: out.write(DAGSTER_YAML.encode()))
            dagster_yaml.chmod(PRIVATE_FILE_MODE)  # also when made by a process of someone else's

    def export_dagster_env(self) -> None:
        """Point Dagster at our home so run history, cursors and partitions survive restarts."""
        self.ensure_layout()
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
        os.environ["LTV_HOME"] = str(self.home)


def get_settings() -> Settings:
    """Read the environment each time: tests and the CLI change LTV_HOME between calls."""
    return Settings.from_env()
