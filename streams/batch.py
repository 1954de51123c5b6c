"""The pure step of the actions path: raw messages in, rows and dead letters out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.events import Action
from schemas.validate import decode
from sinks.actions import Located
from streams.deadletter import DeadLetter, dead_letter

ACTION_FIELDS = frozenset(Action.__struct_fields__)


@dataclass(frozen=True, slots=True)
class Message:
    """What the pipeline needs of one Kafka message."""

    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass
class BatchResult:
    accepted: list[Located] = field(default_factory=list)
    rejected: list[DeadLetter] = field(default_factory=list)


def split_actions(messages: Sequence[Message], now: dt.datetime) -> BatchResult:
    """Validate every message; valid actions are located, the rest dead-lettered."""
    result = BatchResult()
    for message in messages:
        decoded = decode(message.value, Action)
        if isinstance(decoded, Action):
            result.accepted.append(Located(decoded, message.partition, message.offset))
        else:
            result.rejected.append(
                dead_letter(
                    message.value,
                    decoded,
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    allowed_fields=ACTION_FIELDS,
                    now=now,
                )
            )
    return result
