"""Recognise which SamCart export a header row belongs to, and map its columns.

Detection is by header only: the format whose required columns are all present and which
recognises the most columns wins. When none fits, the error names the closest format and exactly
which required columns it misses, so the user can add an alias or pick the format by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltv_pipeline.formats.profiles import FormatCatalog, FormatProfile, normalize_label


class FormatMismatch(ValueError):
    """The header does not fit the requested (or any) format."""


@dataclass(frozen=True)
class HeaderMapping:
    """Where each canonical column sits in a file, and what else the file carries."""

    profile: FormatProfile
    positions: dict[str, int]  # canonical column -> 0-based position
    extra: dict[int, str]  # position -> original header, for columns no alias recognises
    missing_required: tuple[str, ...]

    @property
    def matched(self) -> int:
        return len(self.positions)

    @property
    def fits(self) -> bool:
        return not self.missing_required

    def describe_missing(self) -> str:
        return ", ".join(self.missing_required)


def map_header(profile: FormatProfile, header: list[str]) -> HeaderMapping:
    index = profile.alias_index()
    positions: dict[str, int] = {}
    extra: dict[int, str] = {}
    for position, title in enumerate(header):
        canonical = index.get(normalize_label(title))
        if canonical is not None and canonical not in positions:
            positions[canonical] = position
        else:
            extra[position] = _extra_name(title, position, extra)
    missing = [
        _display(profile, column.name)
        for column in profile.columns
        if column.needs_header and column.name not in positions
    ]
    for group in profile.required_one_of:
        if not any(name in positions for name in group):
            missing.append(" or ".join(_display(profile, name) for name in group))
    return HeaderMapping(profile, positions, extra, tuple(missing))


def _display(profile: FormatProfile, column_name: str) -> str:
    """Name a column the way the user sees it in SamCart: its first alias."""
    column = profile.column(column_name)
    return f'"{column.aliases[0]}"' if column.aliases else column_name


def _extra_name(title: str, position: int, taken: dict[int, str]) -> str:
    name = title.replace("\ufeff", "").strip() or f"column {position + 1}"
    while name in taken.values():
        name = f"{name} ({position + 1})"
    return name


def detect_format(catalog: FormatCatalog, header: list[str]) -> HeaderMapping:
    mappings = [map_header(profile, header) for profile in catalog.profiles.values()]
    fitting = sorted((m for m in mappings if m.fits), key=lambda m: m.matched, reverse=True)
    if fitting:
        if len(fitting) > 1 and fitting[0].matched == fitting[1].matched:
            raise FormatMismatch(
                f"the header fits both {fitting[0].profile.name} and {fitting[1].profile.name} "
                "equally well; choose the format explicitly (--format)"
            )
        return fitting[0]
    closest = max(mappings, key=lambda m: (m.matched - len(m.missing_required), m.matched))
    raise FormatMismatch(
        f"the header matches no known SamCart export; closest is {closest.profile.name} "
        f"({closest.profile.label}), which is missing the required column(s) "
        f"{closest.describe_missing()}. Found columns: {', '.join(header) or '(none)'}"
    )


def mapping_for(
    catalog: FormatCatalog, format_name: str | None, header: list[str]
) -> HeaderMapping:
    """Use the format the user named, else detect it; either way the header must fit."""
    if format_name is None:
        return detect_format(catalog, header)
    mapping = map_header(catalog.profile(format_name), header)
    if not mapping.fits:
        raise FormatMismatch(
            f"the header does not fit {format_name} ({mapping.profile.label}): missing the "
            f"required column(s) {mapping.describe_missing()}. Found columns: "
            f"{', '.join(header) or '(none)'}"
        )
    return mapping
