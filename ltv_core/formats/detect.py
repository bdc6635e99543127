"""Recognise which SamCart export a header row belongs to, and map its columns.

Detection is by header only: the format whose required columns are all present and which
recognises the most columns wins. When none fits, the error names the closest format (the one
sharing the most required columns; all of them on a tie) and exactly which required columns it
misses, so the user can add an alias or pick the format by hand. A format chosen by hand that does
not fit is answered with the format the header does fit, if any.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltv_core.formats.profiles import FormatCatalog, FormatProfile, normalize_label


class FormatMismatch(ValueError):
    """The header does not fit the requested (or any) format."""


@dataclass(frozen=True)
class HeaderMapping:
    """Where each canonical column sits in a file, and what else the file carries."""

    profile: FormatProfile
    positions: dict[str, int]  # canonical column -> 0-based position
    extra: dict[int, str]  # position -> original header, for columns no alias recognises
    missing_columns: tuple[str, ...]  # required columns absent, as the user sees them
    missing_one_of: tuple[tuple[str, ...], ...]  # groups of which one is required and none found
    required_found: int  # required columns (a group counting as one) the header has

    @property
    def matched(self) -> int:
        return len(self.positions)

    @property
    def fits(self) -> bool:
        return not self.missing_columns and not self.missing_one_of

    def describe_missing(self) -> str:
        """`missing: A, B; one of C or D`: alternatives are named as such, not as a list."""
        parts = []
        if self.missing_columns:
            parts.append(", ".join(self.missing_columns))
        for group in self.missing_one_of:
            parts.append("one of " + ", ".join(group[:-1]) + " or " + group[-1])
        return "missing: " + "; ".join(parts)

    def describe_format(self) -> str:
        return f"{self.profile.name} ({self.profile.label})"


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
    required = [column.name for column in profile.columns if column.needs_header]
    missing = tuple(_display(profile, name) for name in required if name not in positions)
    missing_one_of = tuple(
        tuple(_display(profile, name) for name in group)
        for group in profile.required_one_of
        if not any(name in positions for name in group)
    )
    found = len(required) - len(missing) + len(profile.required_one_of) - len(missing_one_of)
    return HeaderMapping(profile, positions, extra, missing, missing_one_of, found)


def _display(profile: FormatProfile, column_name: str) -> str:
    """Name a column the way the user sees it in SamCart: its first alias."""
    column = profile.column(column_name)
    return f'"{column.aliases[0]}"' if column.aliases else column_name


def _extra_name(title: str, position: int, taken: dict[int, str]) -> str:
    name = title.replace("\ufeff", "").strip() or f"column {position + 1}"
    while name in taken.values():
        name = f"{name} ({position + 1})"
    return name


def _found_columns(header: list[str]) -> str:
    return f"Found columns: {', '.join(header) or '(none)'}"


def _best_fit(catalog: FormatCatalog, header: list[str]) -> HeaderMapping | None:
    """The fitting format that recognises the most columns, if exactly one does."""
    mappings = [map_header(profile, header) for profile in catalog.profiles.values()]
    fitting = sorted((m for m in mappings if m.fits), key=lambda m: m.matched, reverse=True)
    if not fitting:
        return None
    if len(fitting) > 1 and fitting[0].matched == fitting[1].matched:
        raise FormatMismatch(
            f"the header fits both {fitting[0].profile.name} and {fitting[1].profile.name} "
            "equally well; choose the format explicitly (--format)"
        )
    return fitting[0]


def detect_format(catalog: FormatCatalog, header: list[str]) -> HeaderMapping:
    best = _best_fit(catalog, header)
    if best is not None:
        return best
    # Closest: the formats sharing the most required columns with the header. Recognising many
    # optional columns says little (every export has an email and a product).
    mappings = [map_header(profile, header) for profile in catalog.profiles.values()]
    most = max(m.required_found for m in mappings)
    closest = [m for m in mappings if m.required_found == most]
    if len(closest) == 1:
        nearest = f"closest is {closest[0].describe_format()}, {closest[0].describe_missing()}"
    else:
        nearest = f"{len(closest)} formats are equally close. " + ". ".join(
            f"{m.describe_format()}, {m.describe_missing()}" for m in closest
        )
    raise FormatMismatch(
        f"the header matches no known SamCart export; {nearest}. {_found_columns(header)}"
    )


def mapping_for(
    catalog: FormatCatalog, format_name: str | None, header: list[str]
) -> HeaderMapping:
    """Use the format the user named, else detect it; either way the header must fit."""
    if format_name is None:
        return detect_format(catalog, header)
    mapping = map_header(catalog.profile(format_name), header)
    if not mapping.fits:
        try:
            best = _best_fit(catalog, header)
        except FormatMismatch:
            best = None
        instead = (
            f" The header fits {best.describe_format()}: import it as that format, or let the "
            "format be detected."
            if best is not None
            else ""
        )
        raise FormatMismatch(
            f"the header does not fit {mapping.describe_format()}, "
            f"{mapping.describe_missing()}.{instead} {_found_columns(header)}"
        )
    return mapping
