"""The Faust app: topics, thin agents and the actions consumer wired to the pipeline.

Actions (the volume) are read in batches by :mod:`spur.worker.consume`, a task
of this app. Each agent (web, forms, consent) takes batches with ``take_events`` and hands them to
its path of :class:`spur_streams.batch.Batch` (spur.worker.batch) in a worker
thread (store calls block); then it publishes what the batch produced
(window states, dead letters) and waits for the broker to acknowledge them.

Offsets: ``take_events`` acknowledges a batch's messages only when the agent
asks for the next batch, i.e. after the batch's rows are stored and its
outputs delivered; Faust commits acknowledged offsets every
``commit_interval_seconds``. A crash before that replays the batch, which
every step tolerates (docs/design.md#two-consumption-styles).

Blocking: a batch blocks its agent until the store accepted it (retrying);
that stalls consumption of the agent's partitions: the backpressure.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from typing import Any, cast

import faust

from spur.client.kafka import SASL_MECHANISM, KafkaTarget
from spur.client.publisher import LINGER_MS, MAX_BATCH_BYTES, new_producer
from spur.metrics import PROMETHEUS
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur.worker.committed_reads import CommittedTransport
from spur.worker.consume import actions_consumer, batch_handlers, consume_actions
from spur.worker.observe import observe
from spur.worker.publishers import ProducerPublisher, detour_headers
from spur_schemas.messages import DeadLetter
from spur_schemas.partitioning import murmur2_partitioner
from spur_schemas.topics import CONSUMPTION, Topic, consumer_group_of
from spur_sinks.store import Store
from spur_streams.batch import Batch, Message
from spur_streams.steps.publish import publish_dead_letters, publish_detours
from spur_streams.steps.route import Detour

log = logging.getLogger(__name__)

Processor = Callable[[Sequence[Message], dt.datetime], list[DeadLetter]]
Agent = Callable[[faust.StreamT[bytes]], AsyncIterator[None]]


def create_app(settings: Settings, bootstrap: KafkaTarget, store: Store) -> faust.App:
    """A Faust app consuming spur's input topics into ``store``."""
    settings.local.faust_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        agents_group(settings.broker.consumer_group),
        broker=";".join(f"kafka://{host}" for host in bootstrap.bootstrap.split(",")),
        broker_credentials=faust_credentials(bootstrap),
        datadir=str(settings.local.faust_dir),
        value_serializer="raw",
        key_serializer="raw",
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=settings.worker.stream_buffer_maxsize,
        broker_commit_interval=settings.worker.commit_interval_seconds,
        broker_session_timeout=settings.worker.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.worker.session_timeout_seconds / 3),
        producer_compression_type="zstd",  # as the topics (spur.topics says why)
        # This producer carries only the agents' dead letters and consent
        # detours (the actions path has its own, spur.worker.publishers); the
        # same partitions and request size as spur's other producers.
        producer_partitioner=murmur2_partitioner,
        producer_linger_ms=LINGER_MS,
        producer_max_batch_size=MAX_BATCH_BYTES,
        web_enabled=False,
    )
    # Before anything asks the app for its transport: aborted transactions never count.
    app.transport = CommittedTransport(app.conf.broker_consumer, app)
    batch = batch_steps(store, settings, PROMETHEUS, partitions=settings.broker.topic_partitions)

    @app.on_before_shutdown.connect
    async def stop_retrying(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        batch.stopping.set()

    # Faust's task decorator carries no type hints; registered explicitly.
    as_task: Any = app.task
    # The batch consumer reads the topic declared "batch" (spur_schemas.topics.CONSUMPTION).
    batched = {topic for topic, how in CONSUMPTION.items() if how.style == "batch"}
    if batched != {Topic.ACTIONS}:
        raise RuntimeError(f"a batch consumer for actions; declared: {sorted(batched)}")
    as_task(actions_consumer_task(settings, bootstrap, batch))

    register_agents(app, settings, batch)

    async def observe_now() -> None:
        await observe(store, settings)

    # Faust's timer decorator carries no type hints; registered explicitly.
    every: Any = app.timer(settings.worker.observe_interval_seconds)
    every(observe_now)
    return app


def agents_group(consumer_group: str) -> str:
    """The Faust app's one group: that of every topic declared as read by agents."""
    groups = {
        consumer_group_of(topic, consumer_group)
        for topic, how in CONSUMPTION.items()
        if how.style == "agent"
    }
    if len(groups) != 1:
        raise RuntimeError(f"the agents share one Faust app, so one group; declared: {groups}")
    return groups.pop()


def register_agents(app: faust.App, settings: Settings, batch: Batch) -> None:
    """The Faust agents of web requests, forms and consent (the low-volume topics)."""
    topics = {topic: app.topic(topic.value, key_type=bytes, value_type=bytes) for topic in Topic}
    publisher = FaustPublisher(app)

    def batches(stream: faust.StreamT[bytes]) -> AsyncIterator[Sequence[Any]]:
        # Agents receive a concrete Stream; take_events is not on the StreamT protocol.
        concrete = cast(faust.Stream[bytes], stream)
        return concrete.take_events(
            settings.worker.batch_size, within=settings.worker.batch_seconds
        )

    def simple_agent(process: Processor) -> Agent:
        async def agent(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
            async for events in batches(stream):
                with acknowledged_only_if_done(events):
                    messages = [_message(e) for e in events]
                    letters = await asyncio.to_thread(process, messages, _now())
                    await publish_dead_letters(publisher, letters)
                yield None

        return agent

    async def consent(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        # Decisions under another key or partition than their login's are
        # re-routed first (tombstoned again if an erasure caught their subject
        # meanwhile, and their originals tombstoned after), then the rest takes
        # the common path; offsets as for the other agents.
        async for events in batches(stream):
            with acknowledged_only_if_done(events):
                messages = [_message(e) for e in events]
                route = await asyncio.to_thread(
                    batch.route_consent, messages, _now(), settings.broker.topic_partitions
                )
                await publish_detours(publisher, route.detours)
                raced = await asyncio.to_thread(batch.consent_raced, route)
                await publish_detours(publisher, [*raced, *route.stale])
                letters = await asyncio.to_thread(batch.process_consent, route.here, _now())
                await publish_dead_letters(publisher, letters)
            yield None

    agents: dict[Topic, Agent] = {
        Topic.WEB: simple_agent(batch.process_web),
        Topic.FORMS: simple_agent(batch.process_forms),
        Topic.CONSENT: consent,
    }
    # Exactly the topics declared as read by agents (spur_schemas.topics.CONSUMPTION).
    declared = {topic for topic, how in CONSUMPTION.items() if how.style == "agent"}
    if declared != set(agents):
        raise RuntimeError(f"agents for {sorted(agents)}; declared: {sorted(declared)}")
    for topic, agent in agents.items():
        app.agent(topics[topic], name=f"spur.{topic.name.lower()}")(agent)


def actions_consumer_task(
    settings: Settings, bootstrap: KafkaTarget, batch: Batch
) -> Callable[[], Coroutine[Any, Any, None]]:
    """The app's task that reads actions in batches (spur.worker.consume) through ``batch``."""

    async def actions() -> None:
        consumer = actions_consumer(settings, bootstrap)
        # The actions path's outputs (window states, detours, dead letters) in
        # batches per partition, through a producer of its own (spur.worker.publishers).
        producer = new_producer(bootstrap)
        prepare_actions, process_actions, complete_actions = batch_handlers(
            batch, ProducerPublisher(producer)
        )
        await producer.start()
        try:
            await consume_actions(
                consumer, settings, process_actions, complete_actions,
                assign=batch.assign, revoke=batch.revoke, prepare=prepare_actions,
            )  # fmt: skip
        finally:
            await producer.stop()

    return actions


class FaustPublisher:
    """The app's producer as a :class:`spur_streams.steps.publish.Publisher`."""

    def __init__(self, app: faust.App) -> None:
        self._app = app

    async def publish(self, topic: Topic, messages: Sequence[tuple[bytes, bytes]]) -> None:
        # The producer directly: Topic.send builds several objects per message.
        producer = self._app.producer
        sent = [
            await producer.send(
                topic.value, key, value, partition=None, timestamp=None, headers=None
            )
            for key, value in messages
        ]
        await asyncio.gather(*sent)

    async def publish_placed(self, messages: Sequence[Detour]) -> None:
        producer = self._app.producer
        sent = [
            await producer.send(
                m.topic.value, m.key, m.value, partition=m.partition, timestamp=None,
                headers=detour_headers(m),
            )
            for m in messages
        ]  # fmt: skip
        await asyncio.gather(*sent)


@contextlib.contextmanager
def acknowledged_only_if_done(events: Sequence[Any]) -> Iterator[None]:
    """Hold a reference on every message of the batch until the block completes.

    ``take_events`` acknowledges a batch in a ``finally``, i.e. also when the
    agent is cancelled (a SIGTERM while the store is down), and Faust commits
    acknowledged offsets at shutdown: rows never stored would be skipped for
    good. The extra reference keeps such messages unacknowledged; it is
    released only when the whole batch was stored and published.
    """
    for event in events:
        event.message.incref()
    yield
    for event in events:
        event.message.decref()


def faust_credentials(target: KafkaTarget) -> faust.SASLCredentials | None:
    """SCRAM over TLS (SASL_SSL), or over plaintext (the dev broker): Faust picks
    the protocol from whether an SSL context is given."""
    if target.security_protocol == "PLAINTEXT":
        return None
    return faust.SASLCredentials(
        username=target.username,
        password=target.password.get_secret_value() if target.password else None,
        ssl_context=target.ssl_context() if target.security_protocol == "SASL_SSL" else None,
        mechanism=SASL_MECHANISM,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _message(event: Any) -> Message:
    message = event.message
    return Message(
        message.topic, message.partition, message.offset, message.value or b"", message.key
    )
