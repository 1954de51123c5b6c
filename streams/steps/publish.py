"""Step ``publish``: the batch's outputs to their topics, acknowledged.

Input: the usage and capacity window states a batch rewrote and its dead
letters; a :class:`Publisher`.
Output: one message per window state on ``spur.usage.v1`` /
``spur.capacity.v1`` (keyed by window) and per dead letter on
``spur.deadletter.v1`` (keyed by reason), JSON-encoded.
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

from schemas.messages import CapacityMessage, DeadLetter, UsageMessage
from schemas.topics import Topic


class Publisher(Protocol):
    async def publish(self, topic: Topic, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Send ``(key, value)`` messages; return once all are acknowledged."""


async def publish_windows(
    publisher: Publisher, usage: Sequence[UsageMessage], capacity: Sequence[CapacityMessage]
) -> None:
    await publisher.publish(Topic.USAGE, [(u.key, msgspec.json.encode(u)) for u in usage])
    await publisher.publish(Topic.CAPACITY, [(w.key, msgspec.json.encode(w)) for w in capacity])


async def publish_dead_letters(publisher: Publisher, letters: Sequence[DeadLetter]) -> None:
    if letters:
        await publisher.publish(
            Topic.DEADLETTER,
            [(letter.reason.encode(), msgspec.json.encode(letter)) for letter in letters],
        )
