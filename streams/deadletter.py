"""Dead letters: a rejected message, why, and where it came from (docs/events.md).

A dead letter must not become the back door for content: every original is
redacted by :func:`redact` before the letter is written anywhere, whatever the
reason it was rejected for. Building a letter never raises (:func:`dead_letter`
is total): one bad message must never stop the pipeline.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec

from spur_schemas.events import MAX_EVENT_BYTES
from spur_schemas.messages import DeadLetter
from spur_schemas.rejections import Rejection, shown_field_name
from spur_streams.privacy import apply_ip_policy, strip_query

REDACTED = "[redacted]"
# The whole original when it cannot be redacted field by field (not JSON, not
# an object, nested too deeply to parse, ...): never the raw bytes.
UNPARSEABLE = b"[redacted: not parseable for redaction]"
# The whole original of an event past its retention: the policy's limit holds
# for what it rejects too (a web log line 100 days old is not kept 14 more).
WITHHELD = b"[withheld: past its retention]"
# Longest string kept in a field whose contract declares no max_length (UUIDs,
# timestamps, patterns): longer than any valid value of those.
DEFAULT_MAX_LENGTH = 64
_INT_RANGE = range(-(2**63), 2**64)
_REDACTION_ERRORS = (msgspec.DecodeError, UnicodeError, ValueError, RecursionError)

__all__ = [
    "DEFAULT_MAX_LENGTH", "REDACTED", "UNPARSEABLE", "WITHHELD", "DeadLetter", "dead_letter",
    "redact",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Rule:
    """What of one known field's value may stay in a dead letter."""

    max_length: int  # the longest string kept
    fields: Mapping[str, _Rule] | None = None  # an object's allow-listed keys


def redact(raw: bytes, kind: type[msgspec.Struct]) -> bytes:
    """``raw`` (one message of ``kind``) with everything that may be content replaced.

    The rule: field names and the top-level structure stay; a value stays only
    when it is a scalar that fits its field's declared limits, so ids,
    timestamps, numbers and short strings remain to debug with. Replaced by
    ``"[redacted]"`` are: the value of every unknown field; any object or
    array where the contract expects a scalar; inside an object the contract
    expects (``profile``), every key that is not allow-listed and every value
    that is not a fitting scalar; a string longer than its field's
    ``max_length`` (:data:`DEFAULT_MAX_LENGTH` where none is declared, 0 where
    an object is expected); an integer outside the 64-bit range; a value that
    cannot be decoded (invalid UTF-8). Bytes that cannot be redacted this way
    (not JSON, not an object, nested too deeply) become :data:`UNPARSEABLE`.

    Pure; never raises for any bytes.
    """
    try:
        return msgspec.json.encode(_cut_private(_redact_object(raw, _rules(kind))))
    except _REDACTION_ERRORS:
        return UNPARSEABLE


def _redact_object(raw: bytes, rules: Mapping[str, _Rule]) -> dict[str, object]:
    members = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    redacted: dict[str, object] = {}
    for name, value in members.items():
        if name in rules:
            redacted[name] = _redact_value(bytes(value), rules[name])
        else:  # a key that may be content keeps only its place (numbered: keys are unique)
            shown = shown_field_name(name)
            redacted[shown if shown == name else f"{shown} {len(redacted) + 1}"] = REDACTED
    return redacted


def _cut_private(redacted: dict[str, object]) -> dict[str, object]:
    """What the stored events never hold, cut from a letter too, whatever the
    stream's IP policy: an address to its network (/24, /48), a path's query
    string and fragment (docs/guarantees.md)."""
    for name, cut in _PRIVATE_VALUES.items():
        value = redacted.get(name)
        if isinstance(value, str):
            try:
                redacted[name] = cut(value)
            except ValueError:  # no address: nothing of it is kept
                redacted[name] = REDACTED
    return redacted


_PRIVATE_VALUES: dict[str, Callable[[str], str]] = {
    "client_ip": functools.partial(apply_ip_policy, policy="truncate"),
    "path": strip_query,
}


def _redact_value(raw: bytes, rule: _Rule) -> object:
    try:
        if raw.lstrip()[:1] in (b"{", b"["):
            # Checked before decoding: a container is never parsed deeper than needed.
            if rule.fields is not None and raw.lstrip()[:1] == b"{":
                return _redact_object(raw, rule.fields)
            return REDACTED
        value = msgspec.json.decode(raw)
    except _REDACTION_ERRORS:
        return REDACTED
    return value if _fits(value, rule) else REDACTED


def _fits(value: object, rule: _Rule) -> bool:
    if isinstance(value, str):
        return len(value) <= rule.max_length
    if isinstance(value, bool | float) or value is None:
        return True
    return isinstance(value, int) and value in _INT_RANGE


@functools.cache
def _rules(kind: type[msgspec.Struct]) -> Mapping[str, _Rule]:
    info = msgspec.inspect.type_info(kind)
    assert isinstance(info, msgspec.inspect.StructType)
    return {field.encode_name: _rule(field.type) for field in info.fields}


def _rule(kind: msgspec.inspect.Type) -> _Rule:
    if isinstance(kind, msgspec.inspect.UnionType):
        members = [_rule(t) for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
        nested = next((m.fields for m in members if m.fields is not None), None)
        return _Rule(max(m.max_length for m in members), nested)
    if isinstance(kind, msgspec.inspect.StructType):
        return _Rule(0, {f.encode_name: _rule(f.type) for f in kind.fields})
    if isinstance(kind, msgspec.inspect.StrType) and kind.max_length is not None:
        return _Rule(kind.max_length)
    if isinstance(kind, msgspec.inspect.LiteralType):
        return _Rule(max(len(str(v)) for v in kind.values))
    return _Rule(DEFAULT_MAX_LENGTH)


def dead_letter(
    raw: bytes,
    rejection: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    kind: type[msgspec.Struct],
    now: dt.datetime,
) -> DeadLetter:
    """Build the dead letter for one rejected message of ``kind`` (pure, never raises).

    The original is :func:`redact` ed, then cut to ``MAX_EVENT_BYTES``
    (``original_truncated`` says so).
    """
    try:
        body = WITHHELD if rejection.reason == "beyond_retention" else redact(raw, kind)
    except Exception:
        body = UNPARSEABLE
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        reason=rejection.reason,
        detail=rejection.detail,
        field=rejection.field,
        at=now,
        original_b64=base64.b64encode(body[:MAX_EVENT_BYTES]).decode(),
        original_truncated=len(body) > MAX_EVENT_BYTES,
    )
