"""What a delivery body says, as a JSON document; the one parser the sidecar and pipeline share.

The sidecar uses it to decide between 2xx (stored) and 400 (stored as a dead letter, with the
reason); the pipeline uses it to turn the stored bytes into the document its SQL reads. Numbers
are kept as their literal text, so money is never rounded through a float.

Nesting is bounded (MAX_NESTING): a SamCart event is a few levels deep, and a body nested
hundreds of levels (`a[b][b]...=1`) parsed fine but made `json.dumps` raise RecursionError in
the pipeline, which then failed its whole day. Both sides refuse it here, with the same reason.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

MAX_FORM_FIELDS = 1000
# Levels of objects and arrays, the outer object counting as 1; SamCart's events use about 4.
MAX_NESTING = 32
FORM_TYPES = ("application/x-www-form-urlencoded",)
# A `\\uD800`-`\\uDFFF` escape: only these can make a lone surrogate out of valid UTF-8.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class PayloadError(ValueError):
    """The body cannot be read as a JSON object or a form; the message says why."""


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _reject_constant(name: str) -> object:
    raise PayloadError(f"the JSON contains {name}, which is not valid JSON")


_DECODER = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=_reject_constant)


def parse_json(body: bytes) -> dict:
    try:
        # What json.loads does with bytes, with one decoder made once instead of per call, but
        # strict: a UTF-8-encoded surrogate is not text (json.loads lets it through).
        document = _DECODER.decode(body.decode(json.detect_encoding(body)))
    except PayloadError:
        raise
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the body is not valid UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise PayloadError(
            f"the JSON is nested too deeply to read; at most {MAX_NESTING} levels are allowed"
        ) from None
    if not isinstance(document, dict):
        raise PayloadError(
            f"the body is JSON but a {type(document).__name__}; expected a JSON object {{...}}"
        )
    # Fewer brackets than the limit cannot nest past it: the usual body skips the walk.
    if body.count(b"{") + body.count(b"[") > MAX_NESTING:
        depth = nesting(document)
        if depth > MAX_NESTING:
            raise PayloadError(
                f"the JSON is nested {depth} levels deep; at most {MAX_NESTING} are allowed"
            )
    # After the nesting check: json.dumps recurses.
    if SURROGATE_ESCAPE.search(body):  # most bodies have none: they skip the re-encoding
        refuse_lone_surrogates(json.dumps(document, ensure_ascii=False))
    return document


def refuse_lone_surrogates(text: str) -> None:
    """A lone surrogate (`"\\ud800"`) parses as JSON but is no text: DuckDB cannot store it, so
    the sidecar answers 400 for it and the pipeline rejects a body stored before this check."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError("the JSON has an invalid unicode escape (a lone surrogate)") from None


def nesting(document: dict) -> int:
    """Levels of objects and arrays, the outer one counting as 1. Walks with its own stack, so
    a document of any depth is measured without recursing."""
    deepest = 0
    stack: list[tuple[dict | list, int]] = [(document, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _set_path(document: dict, key: str, value: str) -> None:
    """`customer[email]=x` becomes {"customer": {"email": "x"}}, as PHP-style forms mean it."""
    head, _, rest = key.partition("[")
    parts = [head] + ([p.rstrip("]") for p in rest.split("[")] if rest else [])
    if len(parts) > MAX_NESTING:
        shown = key if len(key) <= 40 else key[:40] + "..."
        raise PayloadError(
            f"form field {shown!r} is nested {len(parts)} levels deep; "
            f"at most {MAX_NESTING} are allowed"
        )
    node = document
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise PayloadError(f"form field {key!r} conflicts with a plain field {part!r}")
        node = child
    if isinstance(node.get(parts[-1]), dict):
        raise PayloadError(f"form field {key!r} conflicts with nested fields of the same name")
    node[parts[-1]] = value


def parse_form(body: bytes) -> dict:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the form body is not valid UTF-8 text ({exc.reason})") from None
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError as exc:
        raise PayloadError(f"the form body is not valid form encoding: {exc}") from None
    document: dict = {}
    for key, value in pairs:
        if not key:
            raise PayloadError("the form body has a field with an empty name")
        _set_path(document, key, value)
    return document


def parse_payload(body: bytes, content_type: str | None) -> dict:
    """The body as a JSON object; forms by their content type, everything else tried as JSON."""
    if not body.strip():
        raise PayloadError("the body is empty; expected a JSON object or a form")
    if media_type(content_type) in FORM_TYPES:
        return parse_form(body)
    return parse_json(body)


def document_text(body: bytes, content_type: str | None) -> str:
    """The canonical JSON text of a body for the pipeline's SQL (numbers as strings)."""
    text = json.dumps(parse_payload(body, content_type), ensure_ascii=False)
    refuse_lone_surrogates(text)
    return text
