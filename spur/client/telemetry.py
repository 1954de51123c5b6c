"""The app-server API: record actions and other events, never slow a request.

::

    async with Telemetry(settings) as telemetry:
        async with telemetry.action("document.export", customer_id=7, login="ann",
                                    session_id=sid, client_ip=ip) as action:
            action.bytes_out = len(body)

Emitting is synchronous and never waits on the network: an event goes into a
bounded in-memory buffer; when the buffer is full, or the broker cannot be
reached, it goes to the local spool file instead. A background task sends
the buffer; after a failure it re-sends the spool, in order, until the
broker answers again, and only then sends from memory again. A restart of
the app server re-sends whatever the spool still holds. Nothing is dropped.

What is recorded, and how (chains, contract checks), is spur.client.recording;
this module is the delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from spur.client.kafka import KafkaTarget
from spur.client.publisher import new_producer, topic_and_key
from spur.client.recording import Recording
from spur.client.sending import (
    Item,
    by_partition,
    filled_batches,
    not_handed,
    send_batch,
    send_spooled,
)
from spur.client.spool import Spool
from spur.metrics import PROMETHEUS
from spur_schemas.events import Event
from spur_schemas.metrics import (
    CLIENT_BUFFERED,
    CLIENT_EMITTED,
    CLIENT_METRICS,
    CLIENT_SEND_ERRORS,
    CLIENT_SENT,
    CLIENT_SPOOL_PENDING_BYTES,
    CLIENT_SPOOLED,
    Metrics,
)
from spur_schemas.validate import encode

log = logging.getLogger(__name__)

# Buffered events taken at once, then handed to the producer as one batch per partition.
SEND_CHUNK = 5_000


class Telemetry(Recording):
    """Buffered, spooling delivery of spur events from one app-server process."""

    def __init__(
        self,
        bootstrap: str | KafkaTarget,
        spool_dir: Path,
        *,
        buffer_size: int = 10_000,
        server: str | None = None,
        request_timeout_ms: int = 5_000,
        retry_seconds: float = 1.0,
        metrics: Metrics = PROMETHEUS,
    ) -> None:
        self._metrics = metrics
        metrics.declare(CLIENT_METRICS)
        self._bootstrap = bootstrap
        self._spool = Spool(spool_dir)
        self._buffer: asyncio.Queue[Item] = asyncio.Queue(maxsize=buffer_size)
        self.server = server
        self._closing = False
        self._sender: asyncio.Task[None] | None = None
        self._request_timeout_ms = request_timeout_ms
        self._retry_seconds = retry_seconds
        self._producer: AIOKafkaProducer | None = None
        self._healthy = False  # sending from memory; False = everything via the spool
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: set[asyncio.Future[Any]] = set()
        self._in_hand = 0
        self._overflowed = False  # the buffer was full: the spool is sent after it

    def emit(self, event: Event) -> None:
        """Hand one event over; never blocks on the network, never drops it."""
        topic, key = topic_and_key(event)
        self._metrics.inc(CLIENT_EMITTED, topic=topic)
        item = (topic, key, encode(event))
        if not self._healthy or self._overflowed:
            self._to_spool(item)
            return
        try:
            self._buffer.put_nowait(item)
        except asyncio.QueueFull:
            # Everything after it goes to the spool too, until the sender has
            # re-sent the spool behind the buffer: the emission order holds.
            self._overflowed = True
            self._to_spool(item)
        else:
            self._metrics.inc(CLIENT_BUFFERED)

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Start the background delivery; succeeds even if the broker is down."""
        self._tasks = [asyncio.create_task(self._recover(), name="spur-telemetry-recover")]

    async def close(self, drain_seconds: float = 30.0) -> None:
        """Deliver what is buffered and spooled, waiting at most ``drain_seconds``.

        What cannot be delivered in time stays in the spool for the next start.
        """
        deadline = asyncio.get_running_loop().time() + drain_seconds
        while asyncio.get_running_loop().time() < deadline:
            delivered = self._buffer.empty() and not self._in_hand and not self._in_flight
            if delivered and self._spool.pending_bytes() == 0:
                break
            await asyncio.sleep(0.05)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while not self._buffer.empty():  # undelivered memory goes to disk, not away
            self._to_spool(self._buffer.get_nowait())
            self._metrics.inc(CLIENT_BUFFERED, -1)
        if self._producer is not None:
            await self._producer.stop()
        self._spool.close()

    async def __aenter__(self) -> Telemetry:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- delivery --------------------------------------------------------------

    def _to_spool(self, item: Item) -> None:
        self._spool.append(*item)
        self._metrics.inc(CLIENT_SPOOLED, topic=item[0])

    def _failed(self, items: Sequence[Item], exc: BaseException) -> None:
        """``items`` were not delivered: to the spool, in order, and from now on
        everything goes there until the broker answers again."""
        for item in items:
            self._metrics.inc(CLIENT_SEND_ERRORS, topic=item[0])
            self._to_spool(item)
        if not self._healthy:
            return
        log.warning("telemetry: broker unreachable (%s); spooling to %s", exc, self._spool.path)
        self._healthy = False
        # Everything still buffered goes to the spool now, ahead of what is
        # emitted from here on, so the spool keeps the emission order.
        while not self._buffer.empty():
            self._to_spool(self._buffer.get_nowait())
            self._metrics.inc(CLIENT_BUFFERED, -1)
        if self._sender is not None and self._sender is not asyncio.current_task():
            self._sender.cancel()
        self._sender = None
        if not self._closing:
            self._tasks.append(asyncio.create_task(self._recover(), name="spur-telemetry-recover"))

    async def _send_from_memory(self) -> None:
        """The buffer, in chunks, as one producer batch per partition (spur.client.sending)."""
        assert self._producer is not None
        while self._healthy:
            items = [await self._buffer.get()]
            while len(items) < SEND_CHUNK and not self._buffer.empty():
                items.append(self._buffer.get_nowait())
            self._metrics.inc(CLIENT_BUFFERED, -len(items))
            self._in_hand = len(items)  # neither buffered nor in flight: close() waits for them
            try:
                await self._hand_over(self._producer, items)
            finally:
                self._in_hand = 0
            if self._overflowed and self._buffer.empty() and self._healthy:
                await self._send_overflow(self._producer)

    async def _send_overflow(self, producer: AIOKafkaProducer) -> None:
        """What the full buffer sent to the spool, now that the buffer before it is sent."""
        try:
            await self._drain_spool(producer)
        except KafkaError as exc:
            self._failed([], exc)  # the recovery re-sends the spool from its cursor
            return
        # The same event-loop step as the spool's last empty read: nothing was spooled since.
        self._overflowed = False

    async def _hand_over(self, producer: AIOKafkaProducer, items: list[Item]) -> None:
        batches: list[tuple[str, int, Any, list[Item]]] = []
        handed = 0  # batches the producer took
        try:
            topics = {item[0] for item in items}
            partitions = {topic: sorted(await producer.partitions_for(topic)) for topic in topics}
            batches = [
                (topic, partition, batch, group[held.start : held.stop])
                for (topic, partition), group in by_partition(items, partitions).items()
                for batch, held in filled_batches(producer, [(k, v, None) for _, k, v in group])
            ]
            for topic, partition, batch, held in batches:
                future = await send_batch(producer, topic, partition, batch)
                handed += 1
                self._in_flight.add(future)
                future.add_done_callback(functools.partial(self._delivered, items=held))
        except asyncio.CancelledError:
            # _failed() cancels this task when the broker is lost; the items
            # in hand must not be lost with it.
            for item in not_handed(items, batches, handed):
                self._to_spool(item)
            raise
        except KafkaError as exc:
            self._failed(not_handed(items, batches, handed), exc)

    def _delivered(self, future: asyncio.Future[Any], items: list[Item]) -> None:
        self._in_flight.discard(future)
        if future.cancelled():
            self._failed(items, asyncio.CancelledError())
        elif (exc := future.exception()) is not None:
            self._failed(items, exc)
        else:
            self._metrics.inc(CLIENT_SENT, len(items), topic=items[0][0])

    async def _recover(self) -> None:
        """Connect, re-send the spool in order, then resume sending from memory."""
        while True:
            try:
                if self._producer is None:
                    self._producer = await self._new_producer()
                await self._drain_spool(self._producer)
            except KafkaError as exc:
                log.info("telemetry: still cannot deliver (%s); retrying", exc)
                await self._discard_producer()
                await asyncio.sleep(self._retry_seconds)
                continue
            if self._spool.pending_bytes() == 0:
                # Same event-loop step as the check: nothing is spooled between.
                self._healthy = True
                self._overflowed = False
                self._sender = asyncio.create_task(
                    self._send_from_memory(), name="spur-telemetry-send"
                )
                self._tasks.append(self._sender)
                return

    async def _discard_producer(self) -> None:
        """Retry with a new producer: after a failed batch an idempotent producer's
        sequence for that partition may be refused for good (OUT_OF_ORDER_SEQUENCE_NUMBER,
        seen after a broker restart), and a new one starts its sequences afresh."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _new_producer(self) -> AIOKafkaProducer:
        producer = new_producer(self._bootstrap, request_timeout_ms=self._request_timeout_ms)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _drain_spool(self, producer: AIOKafkaProducer, batch: int = 5_000) -> None:
        while True:
            records = list(self._spool.read_pending(batch))
            self._metrics.set(CLIENT_SPOOL_PENDING_BYTES, self._spool.pending_bytes())
            if not records:
                return
            sent, failure = await send_spooled(producer, records)
            for p in records[:sent]:
                self._metrics.inc(CLIENT_SENT, topic=p.record.t)
            if sent:
                self._spool.advance(records[sent - 1].end)
            if failure is not None:
                raise failure
