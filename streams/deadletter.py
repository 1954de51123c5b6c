"""Dead letters: a rejected message, why, and where it came from (DESIGN §3).

A dead letter must not become the back door for content: when a message was
rejected for unknown fields, their values are redacted before the letter is
written anywhere (the field names stay, so the producer can be fixed).
"""

from __future__ import annotations

import base64
import datetime as dt

import msgspec

from schemas.events import MAX_EVENT_BYTES, Profile
from schemas.validate import Rejection

REDACTED = "[redacted]"


class DeadLetter(msgspec.Struct, frozen=True):
    topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    field: str | None
    at: dt.datetime
    original_b64: str
    original_truncated: bool


def redact_unknown_fields(raw: bytes, allowed: frozenset[str]) -> bytes:
    """``raw`` with the value of every field outside ``allowed`` replaced.

    Also redacts unknown keys inside ``profile``. Bytes that are not a JSON
    object are returned unchanged (they were rejected before any field).
    """
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw
    if not isinstance(document, dict):
        return raw
    for key in list(document):
        if key not in allowed:
            document[key] = REDACTED
    profile = document.get("profile")
    if isinstance(profile, dict):
        for key in list(profile):
            if key not in Profile.__struct_fields__:
                profile[key] = REDACTED
    return msgspec.json.encode(document)


def dead_letter(
    raw: bytes,
    rejection: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    allowed_fields: frozenset[str],
    now: dt.datetime,
) -> DeadLetter:
    """Build the dead letter for one rejected message (pure)."""
    body = raw
    if rejection.reason == "unknown_field":
        body = redact_unknown_fields(raw, allowed_fields)
    truncated = len(body) > MAX_EVENT_BYTES
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        reason=rejection.reason,
        detail=rejection.detail,
        field=rejection.field,
        at=now,
        original_b64=base64.b64encode(body[:MAX_EVENT_BYTES]).decode(),
        original_truncated=truncated,
    )
