"""Format profiles: the SamCart layouts as data, merged with the user's own additions.

The built-in layouts live in `samcart_formats.toml` beside this file. A user whose export has a
header SamCart renamed adds it in LTV_HOME/formats.toml, for example:

    [formats.samcart-orders.aliases]
    order_id = ["Order Reference"]

    [vocabularies.order_status]
    charged = ["Paid Out"]

and re-runs the import or a backfill: no code changes, and history heals.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

BUILTIN_PATH = Path(__file__).with_name("samcart_formats.toml")
COLUMN_TYPES = ("text", "email", "money", "date", "time", "integer")


class FormatConfigError(ValueError):
    """The formats configuration (built-in or the user's) is malformed."""


def normalize_label(text: str) -> str:
    """Headers and spellings compare case-insensitively, ignoring spaces, punctuation and a BOM."""
    text = text.replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-z]+", " ", text).strip()


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    aliases: tuple[str, ...]
    required: bool = False
    header_required: bool = False
    fallback: str | None = None

    @property
    def vocabulary(self) -> str | None:
        return self.type.split(":", 1)[1] if self.type.startswith("vocabulary:") else None

    @property
    def needs_header(self) -> bool:
        return self.required or self.header_required


@dataclass(frozen=True)
class TimestampSpec:
    """A timestamp built from a date column and an optional separate time column."""

    name: str
    date: str
    time: str | None = None


@dataclass(frozen=True)
class FormatProfile:
    name: str
    label: str
    asset: str
    columns: tuple[ColumnSpec, ...]
    required_one_of: tuple[tuple[str, ...], ...] = ()
    timestamp: TimestampSpec | None = None
    former_assets: tuple[str, ...] = ()  # names the raw asset had before, oldest first

    @property
    def stored_as(self) -> str:
        """The format's name in the warehouse's storage (its landed tables and views): made from
        the format's name, which never changes, so that renaming the asset moves no data."""
        return self.name.replace("-", "_")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def alias_index(self) -> dict[str, str]:
        """Normalised header -> canonical column name."""
        index: dict[str, str] = {}
        for column in self.columns:
            for alias in (column.name, *column.aliases):
                index.setdefault(normalize_label(alias), column.name)
        return index


@dataclass(frozen=True)
class FormatCatalog:
    """Every known format and spelling table, after the user's additions."""

    profiles: dict[str, FormatProfile]
    vocabularies: dict[str, dict[str, str]] = field(default_factory=dict)

    def profile(self, name: str) -> FormatProfile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(self.profiles)
            raise FormatConfigError(f"unknown format {name!r}: expected one of {known}") from None

    def profile_for_asset(self, asset: str) -> FormatProfile:
        for profile in self.profiles.values():
            if profile.asset == asset:
                return profile
        raise KeyError(asset)

    def spellings(self, vocabulary: str) -> dict[str, str]:
        """Normalised spelling -> canonical value."""
        return self.vocabularies[vocabulary]


def _merge_user_config(builtin: dict, user: dict, source: Path) -> dict:
    """Add the user's aliases and spellings to the built-in tables (additions only)."""
    formats = builtin["formats"]
    for format_name, extra in (user.get("formats") or {}).items():
        if format_name not in formats:
            raise FormatConfigError(
                f"{source}: [formats.{format_name}] names no known format; "
                f"expected one of {', '.join(formats)}"
            )
        by_name = {column["name"]: column for column in formats[format_name]["columns"]}
        for column_name, aliases in (extra.get("aliases") or {}).items():
            if column_name not in by_name:
                raise FormatConfigError(
                    f"{source}: formats.{format_name}.aliases.{column_name} names no column of "
                    f"that format; expected one of {', '.join(by_name)}"
                )
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise FormatConfigError(
                    f"{source}: formats.{format_name}.aliases.{column_name} must be a list of "
                    "strings"
                )
            # User aliases go first so that they win over a built-in alias of another column.
            by_name[column_name]["aliases"] = aliases + list(by_name[column_name]["aliases"])
    vocabularies = builtin["vocabularies"]
    for vocab_name, extra in (user.get("vocabularies") or {}).items():
        if vocab_name not in vocabularies:
            raise FormatConfigError(
                f"{source}: [vocabularies.{vocab_name}] is not a known spelling table; "
                f"expected one of {', '.join(vocabularies)}"
            )
        for canonical, spellings in extra.items():
            if not isinstance(spellings, list):
                raise FormatConfigError(
                    f"{source}: vocabularies.{vocab_name}.{canonical} must be a list of strings"
                )
            vocabularies[vocab_name].setdefault(canonical, [])
            vocabularies[vocab_name][canonical] = spellings + vocabularies[vocab_name][canonical]
    return builtin


def _build(raw: dict) -> FormatCatalog:
    vocabularies: dict[str, dict[str, str]] = {}
    for vocab_name, table in raw["vocabularies"].items():
        index: dict[str, str] = {}
        for canonical, spellings in table.items():
            for spelling in (canonical, *spellings):
                index.setdefault(normalize_label(spelling), canonical)
        vocabularies[vocab_name] = index
    profiles: dict[str, FormatProfile] = {}
    for name, spec in raw["formats"].items():
        columns = []
        for column in spec["columns"]:
            kind = column["type"]
            vocab = kind.split(":", 1)[1] if kind.startswith("vocabulary:") else None
            if kind not in COLUMN_TYPES and vocab not in vocabularies:
                raise FormatConfigError(f"format {name}: column {column['name']} type {kind!r}")
            columns.append(
                ColumnSpec(
                    name=column["name"],
                    type=kind,
                    aliases=tuple(column.get("aliases", ())),
                    required=bool(column.get("required", False)),
                    header_required=bool(column.get("header_required", False)),
                    fallback=column.get("fallback"),
                )
            )
        profiles[name] = FormatProfile(
            name=name,
            label=spec["label"],
            asset=spec["asset"],
            columns=tuple(columns),
            required_one_of=tuple(tuple(group) for group in spec.get("required_one_of", ())),
            timestamp=TimestampSpec(**spec["timestamp"]) if "timestamp" in spec else None,
            former_assets=tuple(spec.get("former_assets", ())),
        )
    return FormatCatalog(profiles=profiles, vocabularies=vocabularies)


@cache
def _load_cached(user_path: str | None, user_mtime: float | None) -> FormatCatalog:
    raw = tomllib.loads(BUILTIN_PATH.read_text())
    if user_path is not None:
        path = Path(user_path)
        try:
            user = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise FormatConfigError(f"{path}: not valid TOML: {exc}") from None
        raw = _merge_user_config(raw, user, path)
    return _build(raw)


def load_catalog(user_config: Path | None = None) -> FormatCatalog:
    """The built-in formats plus the user's additions from `user_config`, if it exists."""
    if user_config is not None and user_config.exists():
        return _load_cached(str(user_config), user_config.stat().st_mtime)
    return _load_cached(None, None)
