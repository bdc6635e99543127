"""Every document the code's docstrings and comments cite is in the repository, so a reader can
follow the citation (design notes kept elsewhere once were cited and could not be)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ltv_core", "ltv_pipeline", "ltv_web", "ltv_webhook")
CITATION = re.compile(r"[\w./-]+\.md\b")


def cited_documents() -> dict[str, list[str]]:
    """Each `*.md` name in a string or comment of the packages' code: where it is cited."""
    cited: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
            for token in tokens:
                if token.type in (tokenize.STRING, tokenize.COMMENT):
                    for name in CITATION.findall(token.string):
                        where = f"{path.relative_to(ROOT)}:{token.start[0]}"
                        cited.setdefault(name, []).append(where)
    return cited


def test_every_cited_document_is_in_the_repository():
    cited = cited_documents()
    assert "docs/metrics.md" in cited, "the metric definitions are no longer cited"
    missing = {name: where for name, where in cited.items() if not (ROOT / name).is_file()}
    assert not missing, f"cited but not in the repository (path from its root): {missing}"
