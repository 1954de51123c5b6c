"""The batch's :class:`spur_streams.steps.publish.Publisher` over a plain aiokafka producer.

Every actions consumer publishes through this one: the worker's main
process (spur.worker.app, whose Faust agents publish their few dead letters
and consent detours through the app's own producer) and the extra actions
processes (spur.worker.actions_process). Both send detours with the
same header, so a re-routed message can be traced to where it was first read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from spur.client.sending import Record, filled_batches, send_batch
from spur_schemas.topics import Topic
from spur_streams.routing import partitions_of_keys
from spur_streams.steps.erased_detours import ERASED_HASH_HEADER
from spur_streams.steps.route import DETOUR_HEADER, Detour


def detour_headers(detour: Detour) -> list[tuple[str, bytes]] | None:
    """Where a re-routed message was first read, for whoever traces a mis-keyed producer;
    an erased login's action also its sealed hash (spur_streams.steps.erased_detours)."""
    if detour.origin is None:
        return None
    origin = detour.origin
    headers = [(DETOUR_HEADER, f"{origin.topic}/{origin.partition}/{origin.offset}".encode())]
    if detour.erased_hash is not None:
        headers.append((ERASED_HASH_HEADER, detour.erased_hash))
    return headers


class ProducerPublisher:
    """Hands every message to the producer in batches, one per partition, and waits
    for every acknowledgement.

    Window states go where the producer's partitioner would put their keys
    (all hashed at once, spur_streams.routing), in one aiokafka batch per
    partition (spur.client.sending: half the Python of a ``send`` per
    message; a shuffled backfill publishes about one state per action).
    Detours go to the partition they name, with their header.
    """

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def publish(self, topic: Topic, messages: Sequence[tuple[bytes, bytes]]) -> None:
        if not messages:
            return
        name = topic.value
        partitions = sorted(await self._producer.partitions_for(name))
        # Every key hashed at once (murmur2 in Python is microseconds a key),
        # each message put straight into its partition's records (a shuffled
        # backfill publishes about one state per action: no tuples in between).
        indexes = partitions_of_keys([key for key, _ in messages], len(partitions)).tolist()
        groups: dict[int, list[Record]] = {}
        for (key, value), index in zip(messages, indexes, strict=True):
            records = groups.get(index)
            if records is None:
                records = groups[index] = []
            records.append((key, value, None))
        sent = [
            await send_batch(self._producer, name, partitions[index], batch)
            for index, records in groups.items()
            for batch, _held in filled_batches(self._producer, records)
        ]
        await asyncio.gather(*sent)

    async def publish_placed(self, messages: Sequence[Detour]) -> None:
        groups: dict[tuple[str, int], list[Record]] = {}
        for m in messages:
            groups.setdefault((m.topic.value, m.partition), []).append(
                (m.key, m.value, detour_headers(m))
            )
        sent = [
            await send_batch(self._producer, topic, partition, batch)
            for (topic, partition), group in groups.items()
            for batch, _held in filled_batches(self._producer, group)
        ]
        await asyncio.gather(*sent)
