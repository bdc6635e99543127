"""One delivery, from token and body to the answer: the logic both HTTP entry points share.

Order of questions: is the URL spelled literally (a `%2F` in it is 404, as any other URL that
is not ours) and the token known (else 404, nothing read or written)? Is the body within the
limit (else 413) and received in time (else 408, and the connection is closed)? Then the body
is committed, parseable or not, and only then answered: 200 for a JSON object or a form, 400
with the reason for anything else, nesting past payload.MAX_NESTING included (kept as a dead
letter), 503 when the store cannot commit. Logs carry the account and a hash prefix, never a
body, an email address or a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ltv_core.webhook_payload import PayloadError, parse_payload
from ltv_core.webhook_tokens import TokenIndex
from ltv_webhook.body import BadLength, BodyTooLarge, read_limited
from ltv_webhook.body_deadline import BodyDeadlines, BodyTimeout
from ltv_webhook.store import Delivery, LandingStore, StoreUnavailable

log = logging.getLogger("ltv_webhook")
MAX_CONTENT_TYPE_CHARS = 200
NOT_FOUND = b'{"detail":"Not Found"}'


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # JSON

    @property
    def closes_connection(self) -> bool:
        """After a 408 the rest of the body may still be on its way: the connection cannot
        carry another request."""
        return self.status == 408


def is_literal_path(raw_path: bytes | None, path: str) -> bool:
    """True when the URL was sent without percent-escapes. The server decodes `%2F` in `path`,
    so `/webhooks/samcart%2F<token>` would otherwise reach the webhook route."""
    return raw_path is None or raw_path == path.encode()


def _problem(status: int, error: str, detail: str, stored: bool = False) -> Answer:
    payload = {"error": error, "detail": detail, "stored": stored}
    return Answer(status, json.dumps(payload).encode())


async def handle_delivery(
    store: LandingStore,
    tokens: TokenIndex,
    limit: int,
    deadlines: BodyDeadlines,
    token: str,
    chunks: AsyncIterator[bytes],
    content_length: str | None,
    content_type: str | None,
) -> Answer:
    account = tokens.account_for(token)
    if account is None:
        return Answer(404, NOT_FOUND)
    try:
        body = await deadlines.read(read_limited(chunks, content_length, limit))
    except BodyTimeout as exc:
        return _problem(408, "body_timeout", str(exc))
    except BodyTooLarge as exc:
        return _problem(413, "body_too_large", str(exc))
    except BadLength as exc:
        return _problem(400, "bad_content_length", str(exc))
    outcome, reason = "accepted", None
    try:
        parse_payload(body, content_type)
    except PayloadError as exc:
        outcome, reason = "dead_letter", str(exc)
    content_hash = hashlib.sha256(body).hexdigest()
    delivery = Delivery(
        account=account,
        content_hash=content_hash,
        received_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        content_type=content_type[:MAX_CONTENT_TYPE_CHARS] if content_type else None,
        body=body,
        outcome=outcome,
        reason=reason,
    )
    try:
        duplicate = await store.land(delivery)
    except StoreUnavailable as exc:
        log.warning("503 for account=%s delivery=%s: %s", account, content_hash[:12], exc)
        return _problem(503, "store_unavailable", str(exc))
    if reason is not None:
        log.info("dead letter kept: account=%s delivery=%s", account, content_hash[:12])
        return _problem(400, "unparseable_body", reason, stored=True)
    accepted = b'{"status":"accepted","delivery":"%s","duplicate":%s}' % (
        content_hash.encode(),
        b"true" if duplicate else b"false",
    )
    return Answer(200, accepted)
