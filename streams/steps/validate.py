"""Step ``validate``: the first step of every input path.

Input: a batch of raw Kafka messages (:class:`Message`), the event type they
must be, their arrival time and the type's time limits (clock skew,
retention: plain values, docs/events.md).
Output: a :class:`Split`: the valid events with their Kafka position, and a
dead letter (redacted original, reason code) per rejected message.
Guarantees: the time guards run here, before anything reads an event's time:
a rejected event moves no watermark, opens no window and is never stored.
Failure: total. Nothing here raises for any message, so one bad message can
never stop a partition (its offset would never be committed and every
restart would stop on it again). Pure: no I/O, never blocks.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic

import msgspec

from spur_schemas.located import E_co, Located
from spur_schemas.rejections import Rejection
from spur_schemas.validate import TimeLimits
from spur_schemas.validator import Validator, any_long_fraction
from spur_streams.deadletter import UNPARSEABLE, DeadLetter, dead_letter


class Message(msgspec.Struct, frozen=True, gc=False):
    """What the pipeline needs of one Kafka message.

    A msgspec struct, as :class:`spur_schemas.located.Located` is: one is built
    per message of every batch (~0.1 µs, a frozen dataclass ~1 µs)."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None  # read only where a topic's key matters (consent's)
    detoured: bool = False  # re-published here by a worker (spur_streams.steps.route)
    # An erased login's detour: the sealed content hash of the action as sent
    # (spur_streams.steps.erased_detours).
    erased_hash: bytes | None = None


@dataclass
class Split(Generic[E_co]):
    accepted: list[Located[E_co]] = field(default_factory=list)
    rejected: list[DeadLetter] = field(default_factory=list)


def reject(
    message: Message, rejection: Rejection, kind: type[msgspec.Struct], now: dt.datetime
) -> DeadLetter:
    return dead_letter(
        message.value,
        rejection,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        kind=kind,
        now=now,
    )


def _unexpected(message: Message, exc: Exception, now: dt.datetime) -> DeadLetter:
    """The dead letter of a message whose validation or letter raised (a bug, never content)."""
    return DeadLetter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        reason="not_json",
        detail=f"could not be decoded: {type(exc).__name__}",
        field=None,
        at=now,
        original_b64=base64.b64encode(UNPARSEABLE).decode(),
        original_truncated=False,
    )


def split(
    messages: Sequence[Message], kind: type[E_co], now: dt.datetime, limits: TimeLimits
) -> Split[E_co]:
    """Validate every message as ``kind``; valid ones located, the rest dead-lettered.

    ``now`` is the messages' arrival. The time guards (``limits``) run here,
    before anything reads an event's time: a rejected event moves no
    watermark, opens no window and is never stored.

    Never raises: a message whose validation or dead letter raises anyway is
    dead-lettered as ``not_json`` with its original redacted whole and the
    exception's type in the detail.
    """
    result: Split[E_co] = Split()
    raws = [message.value for message in messages]
    validate = Validator(kind, now, limits, long_fractions=any_long_fraction(raws))
    for message in messages:
        try:
            decoded = validate(message.value)
            if isinstance(decoded, Rejection):
                result.rejected.append(reject(message, decoded, kind, now))
            else:
                result.accepted.append(Located(decoded, message.partition, message.offset))
        except Exception as exc:
            result.rejected.append(_unexpected(message, exc, now))
    return result
