"""Read dead letters back from ``spur.deadletter.v1``.

Blocking: reads the topic from its beginning to the end offsets seen at the
start, then stops; never waits for new letters.
"""

from __future__ import annotations

from collections import Counter

import msgspec

from schemas.topics import Topic
from spur.broker import read_topic
from streams.deadletter import DeadLetter


async def read_dead_letters(bootstrap: str) -> list[DeadLetter]:
    """Every dead letter the topic still retains, oldest first per partition."""
    decoder = msgspec.json.Decoder(DeadLetter)
    return [decoder.decode(value) for value in await read_topic(bootstrap, Topic.DEADLETTER)]


def count_by_reason(letters: list[DeadLetter]) -> Counter[str]:
    return Counter(letter.reason for letter in letters)
