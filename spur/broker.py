"""Which Kafka broker a command talks to, and how far behind the pipeline is."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from spur.client.kafka import KafkaTarget, as_target
from spur.local_state import read_broker_credentials, running_dev_broker
from spur.settings import Settings
from spur_schemas.errors import UnavailableError
from spur_schemas.topics import consumer_group_of


class NoBrokerError(UnavailableError, RuntimeError):
    """No broker is configured and no dev broker runs here."""


def kafka_target(settings: Settings) -> KafkaTarget:
    """Where and how to reach Kafka.

    ``SPUR_KAFKA_BOOTSTRAP`` with the settings' credentials if set; else the
    broker of ``spur dev up`` in this directory, with the credentials it
    generated (only its owner can read them).
    """
    if settings.broker.bootstrap:
        return KafkaTarget(
            bootstrap=settings.broker.bootstrap,
            security_protocol=settings.broker.security_protocol,
            username=settings.broker.sasl_username,
            password=settings.broker.sasl_password,
            cafile=settings.broker.ssl_cafile,
        )
    state = running_dev_broker(settings.local.broker_dir)
    if state is None:
        raise NoBrokerError(
            "no Kafka broker: set SPUR_KAFKA_BOOTSTRAP=host:port, "
            "or run `spur dev up` in this directory to start a local one"
        )
    credentials = read_broker_credentials(Path(state.data_dir))
    if credentials is None:
        # An older spur started it without authentication: refuse to use it.
        raise NoBrokerError(
            f"the dev broker at {state.bootstrap} accepts anyone on this host "
            "(an older spur started it without authentication): run `spur dev down`, "
            "then `spur dev up`"
        )
    return credentials.target(state.bootstrap)


async def consumer_lag(
    bootstrap: str | KafkaTarget, consumer_group: str, topics: Iterable[str]
) -> dict[str, int]:
    """Messages per topic that spur's workers have not committed yet (0 = all processed).

    ``consumer_group`` is spur's setting; each topic is read by the group
    :func:`spur_schemas.topics.consumer_group_of` names.
    """
    access = as_target(bootstrap).client_kwargs()
    consumer = AIOKafkaConsumer(**access, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(**access)
    try:
        # Inside the try: a consumer that failed to start is still stopped (no
        # "Unclosed AIOKafkaConsumer" warning on an unreachable broker).
        await consumer.start()
        await admin.start()
        partitions = await topic_partitions(admin, topics)
        if not partitions:
            return {}
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        committed = {}
        for group in {consumer_group_of(tp.topic, consumer_group) for tp in partitions}:
            mine = [tp for tp in partitions if consumer_group_of(tp.topic, consumer_group) == group]
            committed.update(await admin.list_consumer_group_offsets(group, partitions=mine))
        lag: dict[str, int] = {}
        for tp in partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, ends[tp] - max(done, starts[tp]))
        return lag
    finally:
        await admin.close()
        await consumer.stop()


async def topic_partitions(
    admin: AIOKafkaAdminClient, topics: Iterable[str]
) -> list[TopicPartition]:
    """Every partition of ``topics`` (empty for topics that do not exist)."""
    described = await admin.describe_topics(list(topics))
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if topic["error_code"] == 0
        for partition in sorted(topic["partitions"], key=lambda p: p["partition"])
    ]
