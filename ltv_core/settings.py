"""The one settings object: every path, limit and parsing choice comes from here.

All runtime state lives under one root folder, LTV_HOME, so that a user can back it up, move it,
or throw it away as a unit. Everything has a default that works with no setup. Each field is read
from the environment variable LTV_<FIELD> (two keep older names: LTV_CUSTOMER_KEY and
LTV_WEB_ALLOWED_HOSTS), and a value the software cannot work with is refused at start with the
variable, the value and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ltv_core.home_layout import ensure_home
from ltv_core.host_names import allowed_hosts, browser_url, parse_host_names

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = PROJECT_ROOT / "ltv_home"
DEFAULT_ACCOUNT = "default"
DEFAULT_WAREHOUSE_MEMORY_LIMIT = "60%"
ENV_PREFIX = "LTV_"
ACCOUNT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DATE_ORDERS = ("MDY", "DMY", "YMD")
# Which email makes a customer: the metric code (metrics/definitions.py) defines each rule.
CUSTOMER_KEY_RULES = ("email", "gmail-folded")
DEFAULT_CUSTOMER_KEY_RULE = "email"
# A record of an export over this size is rejected (with its size) rather than loaded; one
# runaway cell must not fail the file or fill memory. 2 MiB is far above any real record.
DEFAULT_MAX_RECORD_BYTES = 2 * 1024 * 1024
MIN_MAX_RECORD_BYTES = 1024
# An ISO 4217 code: the currency every amount of this home is in (LTV_CURRENCY). The pages show
# money in it; amounts are never converted, so one home holds accounts in one currency.
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
DEFAULT_CURRENCY = "USD"
MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*(%|[KMGT]i?B|B)", re.IGNORECASE)


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


def _whole_number(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            raise ValueError("expected a whole number") from None
    return raw


def _number(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
    return raw


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Number = Annotated[float, BeforeValidator(_number)]


# The environment `Settings.from_env` was given, while it reads it; None: the process's own.
_GIVEN_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar(
    "ltv_given_environment", default=None
)


def env_name(field_name: str, field: FieldInfo) -> str:
    """The environment variable a setting is read from."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else ENV_PREFIX + field_name.upper()


class LtvEnvironment(PydanticBaseSettingsSource):
    """The LTV_ variables, as text, of the environment (or of the mapping given to `from_env`).

    An empty variable counts as unset, as it always has: `LTV_PORT= ltv run` keeps the default.
    """

    def _environment(self) -> Mapping[str, str]:
        given = _GIVEN_ENVIRONMENT.get()
        return os.environ if given is None else given

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        key = env_name(field_name, field)
        return self._environment().get(key) or None, key, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                values[name] = value
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", validate_by_name=True
    )

    home: Path = DEFAULT_HOME
    date_order: str = "MDY"
    timezone: str = "UTC"
    busy_timeout_seconds: Number = 60.0
    # The most memory a warehouse connection may use (DuckDB's memory_limit; it spills or fails
    # past it), so one bad input fails its run instead of the machine.
    warehouse_memory_limit: str = DEFAULT_WAREHOUSE_MEMORY_LIMIT
    inbox_settle_seconds: Number = 2.0
    webhook_max_body_bytes: WholeNumber = 1024 * 1024
    # A body not fully received this long after its request began is answered 408, and headers
    # not complete this long after their first byte (or the connection's start) close the
    # connection: a sender trickling bytes must not hold a request open.
    webhook_body_timeout_seconds: Number = 10.0
    dagster_host: str = "127.0.0.1"
    dagster_port: WholeNumber = 3000
    webhook_host: str = "127.0.0.1"
    webhook_port: WholeNumber = 8787
    webhook_seal_seconds: Number = 2.0
    webhook_commit_interval_ms: Number = 5.0
    webhook_start_date: str = "2024-01-01"
    # The upload and report pages: their own listener, never the webhook one (only that one may
    # be exposed to the internet).
    web_host: str = "127.0.0.1"
    web_port: WholeNumber = 8686
    web_max_upload_bytes: WholeNumber = 512 * 1024 * 1024
    # LTV_WEB_ALLOWED_HOSTS (comma-separated): the Host names the pages answer; empty means the
    # loopback names plus web_host. Read it through `web_allowed_hosts`.
    web_allowed_host_names: tuple[str, ...] = Field((), validation_alias="LTV_WEB_ALLOWED_HOSTS")
    # The public base URL SamCart calls (e.g. https://ltv.example.com); empty: the local address.
    webhook_public_url: str = ""
    # Which email makes a customer: "email" (trimmed, case-folded) or "gmail-folded".
    customer_key_rule: str = Field(DEFAULT_CUSTOMER_KEY_RULE, validation_alias="LTV_CUSTOMER_KEY")
    # The largest record of an imported file, in bytes (LTV_MAX_RECORD_BYTES).
    max_record_bytes: WholeNumber = DEFAULT_MAX_RECORD_BYTES
    # The currency of every account's amounts (LTV_CURRENCY, an ISO 4217 code such as USD).
    currency: str = DEFAULT_CURRENCY

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, LtvEnvironment(settings_cls))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of an environment (the process's own by default), or a SettingsError
        that names the variable, its value and what was expected."""
        token = _GIVEN_ENVIRONMENT.set(env)
        try:
            return cls()
        except ValidationError as exc:
            raise SettingsError(_friendly(exc, env if env is not None else os.environ)) from None
        finally:
            _GIVEN_ENVIRONMENT.reset(token)

    @field_validator("home", mode="after")
    @classmethod
    def _home(cls, home: Path) -> Path:
        return home.expanduser().resolve()

    @field_validator("date_order", mode="before")
    @classmethod
    def _date_order(cls, raw: str) -> str:
        value = str(raw).upper()
        if value not in DATE_ORDERS:
            raise ValueError(f"expected one of {', '.join(DATE_ORDERS)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as America/New_York") from None
        return value

    @field_validator("customer_key_rule")
    @classmethod
    def _customer_key_rule(cls, value: str) -> str:
        if value not in CUSTOMER_KEY_RULES:
            raise ValueError(f"expected one of {', '.join(CUSTOMER_KEY_RULES)}")
        return value

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, raw: str) -> str:
        value = str(raw).strip().upper()
        if not CURRENCY_CODE.fullmatch(value):
            raise ValueError("expected a 3-letter ISO 4217 currency code such as USD, EUR or GBP")
        return value

    @field_validator("max_record_bytes")
    @classmethod
    def _max_record_bytes(cls, value: int) -> int:
        if value < MIN_MAX_RECORD_BYTES:
            raise ValueError(f"expected a number of bytes of at least {MIN_MAX_RECORD_BYTES}")
        return value

    @field_validator("webhook_body_timeout_seconds")
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("expected a number of seconds above 0")
        return value

    @field_validator("webhook_start_date")
    @classmethod
    def _start_date(cls, value: str) -> str:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError("expected a date as YYYY-MM-DD") from None
        return value

    @field_validator("warehouse_memory_limit", mode="before")
    @classmethod
    def _memory_limit(cls, raw: str) -> str:
        value = str(raw).strip()
        if not MEMORY_LIMIT.fullmatch(value):
            raise ValueError(
                "expected a share of this machine's memory such as 60% or a size such as 8GB "
                "or 512MiB"
            )
        return value

    @field_validator("web_allowed_host_names", mode="before")
    @classmethod
    def _allowed_hosts(cls, raw: Any) -> tuple[str, ...]:
        return parse_host_names(raw.split(",") if isinstance(raw, str) else raw)

    @property
    def web_allowed_hosts(self) -> tuple[str, ...]:
        """The Host names (without port) the pages answer; every other Host gets a 400."""
        return allowed_hosts(self.web_allowed_host_names, self.web_host)

    @property
    def web_url(self) -> str:
        """The pages' address for a browser on this machine: a name they answer to, so an
        every-interface bind (0.0.0.0) is shown as 127.0.0.1."""
        return browser_url(self.web_host, self.web_port)

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
    def charts_dir(self) -> Path:
        """The cohort curves as PNG files, beside their copies in Dagster's metadata."""
        return self.home / "charts"

    @property
    def published_dir(self) -> Path:
        """Report rows the pipeline publishes after the marts change; the report page reads
        only these, so it never opens (or locks) the warehouse."""
        return self.home / "published"

    @property
    def logs_dir(self) -> Path:
        """What `ltv run`'s services write (Dagster at INFO, the webhook receiver, the pages),
        one file each, so the terminal keeps only the addresses and one line per event."""
        return self.home / "logs"

    @property
    def formats_config_path(self) -> Path:
        """Where a user adds header aliases and status spellings without touching code."""
        return self.home / "formats.toml"

    @property
    def state_folders(self) -> tuple[Path, ...]:
        return (
            self.inbox_dir,
            self.archive_dir,
            self.quarantine_dir,
            self.results_dir,
            self.logs_dir,
        )

    def ensure_layout(self) -> None:
        """Create the state folders and a Dagster home with telemetry off; idempotent.

        Cheap enough for every start and every sensor tick: a home made private once is only
        looked at (one stat), and a killed archive copy's leftovers are found by name.
        """
        ensure_home(
            self.home,
            self.state_folders,
            swept=(self.archive_dir, self.results_dir),
            dagster_home=self.dagster_home,
        )

    def export_dagster_env(self) -> None:
        """Point Dagster at our home so run history, cursors and partitions survive restarts."""
        self.ensure_layout()
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
        os.environ["LTV_HOME"] = str(self.home)


def _friendly(exc: ValidationError, env: Mapping[str, str]) -> str:
    """`LTV_X='value': expected ...` for each refused setting, as users have always seen it."""
    messages = []
    for error in exc.errors():
        field_name = str(error["loc"][0]) if error["loc"] else ""
        field = Settings.model_fields.get(field_name)
        key = env_name(field_name, field) if field is not None else field_name
        raw = env.get(key, error.get("input"))
        reason = str(error["msg"]).removeprefix("Value error, ")
        messages.append(f"{key}={raw!r}: {reason}")
    return "; ".join(messages)


def get_settings() -> Settings:
    """Read the environment each time: tests and the CLI change LTV_HOME between calls."""
    return Settings.from_env()
