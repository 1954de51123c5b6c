"""Dead letters: as stored (``spur deadletters``) and as read back from their topic.

Blocking: the store report runs two queries (spur_sinks.deadletters); the topic
is read from its beginning to the end offsets seen at the start, then the
read stops (it never waits for new letters).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import msgspec

from spur.broker import read_topic
from spur.client.kafka import KafkaTarget
from spur_schemas.topics import Topic
from spur_sinks import deadletters as stored
from spur_sinks.store import Store
from spur_streams.deadletter import DeadLetter


def dead_letter_report(
    store: Store, reason: str | None, since: dt.datetime | None, limit: int = 20
) -> dict[str, Any]:
    """Counts per reason, their total and the ``limit`` latest letters."""
    counts = stored.counts_by_reason(store, reason, since)
    return {
        "counts": counts,
        "total": sum(counts.values()),
        # A letter about no one field has none (stored as "").
        "recent": [
            {**row, "field": row["field"] or None}
            for row in stored.latest(store, reason, since, limit)
        ],
    }


async def read_dead_letters(bootstrap: str | KafkaTarget) -> list[DeadLetter]:
    """Every dead letter the topic still retains, oldest first per partition."""
    decoder = msgspec.json.Decoder(DeadLetter)
    return [decoder.decode(value) for value in await read_topic(bootstrap, Topic.DEADLETTER)]


def count_by_reason(letters: list[DeadLetter]) -> Counter[str]:
    return Counter(letter.reason for letter in letters)
