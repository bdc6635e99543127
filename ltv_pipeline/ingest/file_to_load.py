"""One archived export file to load, with the rules it is read by: what every step of a load
needs to know about the file, passed as one value rather than as eight parameters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ltv_core.formats.profiles import FormatCatalog, FormatProfile
from ltv_pipeline.lib import sql_parsing as sp


@dataclass(frozen=True)
class FileToLoad:
    """A file archived under (account, file_hash), to be loaded in `profile`'s format."""

    catalog: FormatCatalog
    profile: FormatProfile
    account: str
    file_hash: str
    path: Path
    file_name: str
    date_order: str
    max_record_bytes: int

    @property
    def where_sql(self) -> str:
        """The condition selecting this file's rows, in the landed or raw view or in rejects."""
        return f"account = {sp.quote(self.account)} AND file_hash = {sp.quote(self.file_hash)}"
