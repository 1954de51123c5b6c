"""A message a worker re-publishes where it belongs (spur_streams.steps.route)."""

from __future__ import annotations

from dataclasses import dataclass

from spur_schemas.topics import Topic
from spur_streams.steps.validate import Message

# The header of a re-routed copy: where its original was read (topic/partition/offset).
DETOUR_HEADER = "spur-detour-from"


@dataclass(frozen=True, slots=True)
class Detour:
    """A message re-published where it belongs; ``origin`` is where it was read."""

    topic: Topic
    partition: int
    key: bytes
    value: bytes | None  # None: a tombstone
    origin: Message | None  # None: a message of the worker's own
    erased_hash: bytes | None = None  # an erased login's action (steps.erased_detours)
