"""What a delivery body says, as a JSON document; the one parser the sidecar and pipeline share.

The sidecar uses it to decide between 2xx (stored) and 400 (stored as a dead letter, with the
reason); the pipeline uses it to turn the stored bytes into the document its SQL reads. Numbers
are kept as their literal text, so money is never rounded through a float.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

MAX_FORM_FIELDS = 1000
FORM_TYPES = ("application/x-www-form-urlencoded",)


class PayloadError(ValueError):
    """The body cannot be read as a JSON object or a form; the message says why."""


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _reject_constant(name: str) -> object:
    raise PayloadError(f"the JSON contains {name}, which is not valid JSON")


_DECODER = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=_reject_constant)


def parse_json(body: bytes) -> dict:
    try:
        # What json.loads does with bytes, with one decoder made once instead of per call.
        document = _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except PayloadError:
        raise
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the body is not valid UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise PayloadError("the JSON is nested too deeply") from None
    if not isinstance(document, dict):
        raise PayloadError(
            f"the body is JSON but a {type(document).__name__}; expected a JSON object {{...}}"
        )
    return document


def _set_path(document: dict, key: str, value: str) -> None:
    """`customer[email]=x` becomes {"customer": {"email": "x"}}, as PHP-style forms mean it."""
    head, _, rest = key.partition("[")
    parts = [head] + ([p.rstrip("]") for p in rest.split("[")] if rest else [])
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
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError("the JSON has an invalid unicode escape (a lone surrogate)") from None
    return text
