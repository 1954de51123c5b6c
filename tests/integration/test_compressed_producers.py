"""Producers compress as their language's client is set to: every codec Kafka has
is read and billed. spur's topics store every batch as zstd (docs/topics.md);
a topic an operator made keeps the producer's codec (compression.type
producer), and the worker reads those batches as sent. (Java and librdkafka
producers often use lz4 or snappy; aiokafka decodes those only with cramjam
>= 2.8, which spur's dependencies ask for: pyproject's aiokafka extras.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.events import Action
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from tests.integration.helpers import running_worker, spur_env, wait_until_committed
from tests.integration.test_aborted_transactions import billed, wait_until_billed
from tests.oracle import expected_billing

pytestmark = pytest.mark.integration

CODECS = ("gzip", "snappy", "lz4", "zstd")


async def send_compressed(bootstrap: KafkaTarget, slices: dict[str, list[Action]]) -> None:
    for codec, actions in slices.items():
        producer = AIOKafkaProducer(**bootstrap.client_kwargs(), compression_type=codec)
        await producer.start()
        try:
            for action in actions:
                key = str(action.action_id).encode()
                await producer.send(Topic.ACTIONS, encode(action), key=key)
            await producer.flush()
        finally:
            await producer.stop()


async def keep_producers_codec(bootstrap: KafkaTarget) -> None:
    admin = AIOKafkaAdminClient(**bootstrap.client_kwargs())
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, Topic.ACTIONS.value, {"compression.type": "producer"}
        )
        await admin.alter_configs([resource])
        for _ in range(100):  # the broker applies it in a moment
            described = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, Topic.ACTIONS.value)]
            )
            # resources: (error, message, type, name, [(name, value, ...), ...])
            entries = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
            if entries["compression.type"] == "producer":
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the topic's codec stayed {entries['compression.type']}")
    finally:
        await admin.close()


def test_actions_sent_with_every_codec_are_billed(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=8, sessions_per_customer=4, days=1, seed=5))
    half = len(actions) // 2
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="codecs")
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        # First on spur's topic (stored as zstd), then on one keeping each codec.
        for start, upto in ((0, half), (half, len(actions))):
            if start:
                asyncio.run(keep_producers_codec(fresh_topics))
            part = actions[start:upto]
            slices = {codec: part[n :: len(CODECS)] for n, codec in enumerate(CODECS)}
            assert all(slices.values())
            asyncio.run(send_compressed(fresh_topics, slices))
            wait_until_billed(env, expected_billing(actions[:upto]), worker.log_tail)
        wait_until_committed(fresh_topics, "codecs", [Topic.ACTIONS], worker=worker, log=log)
        assert "Traceback" not in log.read_text()
    assert billed(env) == expected_billing(actions)
