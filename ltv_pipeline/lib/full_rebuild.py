"""How a run asks the model (and any step that maintains its tables incrementally) to rebuild
from scratch: a run tag, which the UI launchpad, a backfill's dialog and `ltv materialize --full`
can all set, and which every step of the run sees."""

from __future__ import annotations

from collections.abc import Mapping

FULL_REBUILD_TAG = "ltv/full_rebuild"
FULL_REBUILD_TAGS = {FULL_REBUILD_TAG: "true"}


def full_rebuild_asked(tags: Mapping[str, str]) -> bool:
    return tags.get(FULL_REBUILD_TAG, "").strip().lower() in ("true", "1", "yes")
