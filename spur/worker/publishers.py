"""The batch's :class:`spur_streams.steps.publish.Publisher` over a plain aiokafka producer.

The worker's main process publishes through its Faust app's producer
(spur.worker.app); the extra actions processes (spur.worker.actions_process)
run no Faust app and publish through this one. Both send detours with the
same header, so a re-routed message can be traced to where it was first read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from spur_schemas.topics import Topic
from spur_streams.steps.route import DETOUR_HEADER, Detour


def detour_headers(detour: Detour) -> list[tuple[str, bytes]] | None:
    """Where a re-routed message was first read, for whoever traces a mis-keyed producer."""
    if detour.origin is None:
        return None
    origin = detour.origin
    return [(DETOUR_HEADER, f"{origin.topic}/{origin.partition}/{origin.offset}".encode())]


class ProducerPublisher:
    """Sends and waits for every acknowledgement (the producer's partitioner places keys)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def publish(self, topic: Topic, messages: Sequence[tuple[bytes, bytes]]) -> None:
        sent = [await self._producer.send(topic.value, value, key=key) for key, value in messages]
        await asyncio.gather(*sent)

    async def publish_placed(self, messages: Sequence[Detour]) -> None:
        sent = [
            await self._producer.send(
                m.topic.value, m.value, key=m.key, partition=m.partition, headers=detour_headers(m)
            )
            for m in messages
        ]
        await asyncio.gather(*sent)
