"""Publish contract events to Kafka without waiting on each delivery.

Each event goes to its topic, keyed as docs/topics.md says (actions by
action id, so every copy of one action is decided by one worker; consent
by login, the compacted ledger's key). The
producer is idempotent (no duplicates from its own retries), compresses with
zstd and lingers a few milliseconds to batch.

Blocking: ``publish`` returns once the event is in the producer's buffer
(it waits only when the buffer is full); ``flush`` waits until everything
sent so far is acknowledged by the broker. Raises aiokafka's errors.
"""

from __future__ import annotations

from types import TracebackType

from aiokafka import AIOKafkaProducer

from spur.client.kafka import KafkaTarget, as_target
from spur_schemas.events import Action, Consent, Event, FormSubmission, WebRequest
from spur_schemas.partitioning import murmur2_partitioner
from spur_schemas.topics import Topic, action_key, consent_key
from spur_schemas.validate import encode

# Every spur producer's batching: a few milliseconds' wait and a request of up
# to 256 KiB (the worker's Faust producer takes the same, spur.worker.app).
LINGER_MS = 10
MAX_BATCH_BYTES = 256 * 1024


def topic_and_key(event: Event) -> tuple[str, bytes | None]:
    """The topic an event belongs on and its partitioning key."""
    if isinstance(event, Action):
        return Topic.ACTIONS.value, action_key(event.action_id)
    if isinstance(event, Consent):
        return Topic.CONSENT.value, consent_key(event.login)
    if isinstance(event, WebRequest):
        return Topic.WEB.value, None
    if isinstance(event, FormSubmission):
        return Topic.FORMS.value, None
    raise TypeError(f"not a spur event: {type(event).__name__}")


def new_producer(
    bootstrap: str | KafkaTarget, *, linger_ms: int = LINGER_MS, request_timeout_ms: int = 40_000
) -> AIOKafkaProducer:
    """spur's producer configuration, shared by :class:`Publisher` and the client."""
    return AIOKafkaProducer(
        **as_target(bootstrap).client_kwargs(),
        enable_idempotence=True,
        acks="all",
        compression_type="zstd",  # as the topics (spur.topics says why)
        linger_ms=linger_ms,
        max_batch_size=MAX_BATCH_BYTES,
        request_timeout_ms=request_timeout_ms,
        partitioner=murmur2_partitioner,  # aiokafka's partitions, hashed faster
    )


class Publisher:
    """An idempotent, batching producer of spur events."""

    def __init__(self, bootstrap: str | KafkaTarget, *, linger_ms: int = LINGER_MS) -> None:
        self._producer = new_producer(bootstrap, linger_ms=linger_ms)

    async def start(self) -> None:
        try:
            await self._producer.start()
        except BaseException:
            # A producer that failed to bootstrap still holds its client: close it.
            await self._producer.stop()
            raise

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.flush()
        await self.stop()

    async def publish(self, event: Event) -> None:
        topic, key = topic_and_key(event)
        await self._producer.send(topic, encode(event), key=key)

    async def publish_raw(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Publish bytes as they are (backfills, and tests of rejection)."""
        await self._producer.send(topic, value, key=key)

    async def publish_tombstone(self, topic: str, key: bytes, partition: int | None = None) -> None:
        """A null value for ``key``: compaction then removes the key's earlier messages.

        Compaction works per partition: ``partition`` (default: the key's own)
        is where the messages to remove are.
        """
        await self._producer.send(topic, None, key=key, partition=partition)

    async def partitions(self, topic: str) -> list[int]:
        """The partitions of ``topic``, as the broker's metadata says."""
        return sorted(await self._producer.partitions_for(topic))

    async def flush(self) -> None:
        await self._producer.flush()
