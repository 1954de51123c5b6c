"""Step ``publish``: the batch's outputs to their topics, acknowledged.

Input: the usage and capacity window states a batch rewrote, its dead
letters and its detours (step route); a :class:`Publisher`.
Output: one message per window state on ``spur.usage.v1`` /
``spur.capacity.v1`` (keyed by window) and per dead letter on
``spur.deadletter.v1`` (keyed by reason), JSON-encoded; each detour to
its canonical partition under its canonical key, its original bytes.
Guarantees: returns only when the broker acknowledged every message, so the
batch's offsets (step commit) never outrank its outputs. A replay publishes
a window's state again, with the same or a higher ``version``: consumers
keep the highest.
Failure: raises what the publisher raises (the batch then stays
uncommitted and is replayed); waits, never blocks a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from spur_schemas.messages import CapacityMessage, DeadLetter, UsageMessage
from spur_schemas.topics import Topic
from spur_streams.steps.route import Detour


class Publisher(Protocol):
    async def publish(self, topic: Topic, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Send ``(key, value)`` messages; return once all are acknowledged."""

    async def publish_placed(self, messages: Sequence[Detour]) -> None:
        """Send each message to its own topic and partition; return once all are acknowledged."""


async def publish_detours(publisher: Publisher, detours: Sequence[Detour]) -> None:
    """Detours (and tombstones of their originals) before anything that commits their offsets."""
    if detours:
        await publisher.publish_placed(detours)


async def publish_windows(
    publisher: Publisher, usage: Sequence[UsageMessage], capacity: Sequence[CapacityMessage]
) -> None:
    encode = msgspec.json.encode
    if usage:
        keys = UsageMessage.keys(usage)
        await publisher.publish(Topic.USAGE, list(zip(keys, map(encode, usage), strict=True)))
    if capacity:
        keys = CapacityMessage.keys(capacity)
        await publisher.publish(Topic.CAPACITY, list(zip(keys, map(encode, capacity), strict=True)))


async def publish_dead_letters(publisher: Publisher, letters: Sequence[DeadLetter]) -> None:
    if letters:
        await publisher.publish(
            Topic.DEADLETTER,
            [(letter.reason.encode(), msgspec.json.encode(letter)) for letter in letters],
        )
