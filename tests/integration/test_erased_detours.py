"""After `spur erase --login`, the worker never puts the login back on the actions topic.

Found from outside: an erased login's action read under a wrong key (sent
again from a spool, or late) was re-published on its id's partition with
the login and the address, after the erasure, for the topic's retention.
The raw bytes on the topic are read as any consumer would; billing, dead
letters and the store are read through the CLI and the store.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaProducer

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.events import Action
from spur_schemas.partitioning import partition_of
from spur_schemas.topics import Topic, action_key
from spur_schemas.validate import encode
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.test_erasure_final import (
    billed,
    dead_letters,
    publish,
    rows_about,
    with_one_more,
)
from tests.topic_contents import read_records

pytestmark = pytest.mark.integration

PARTITIONS = 4
GROUP = "erased-detours"


async def publish_miskeyed(bootstrap: KafkaTarget, actions: list[Action]) -> None:
    """Each action under a customer's key, on a partition that is not its id's."""
    producer = AIOKafkaProducer(**bootstrap.client_kwargs())
    await producer.start()
    try:
        for event in actions:
            home = partition_of(action_key(event.action_id), PARTITIONS)
            key = f"customer-{event.customer_id}".encode()
            await producer.send_and_wait(
                Topic.ACTIONS, encode(event), key=key, partition=(home + 1) % PARTITIONS
            )
    finally:
        await producer.stop()


def test_an_erased_logins_miskeyed_actions_come_back_without_the_login(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=3, sessions_per_customer=6, seed=53))
    person = actions[0]
    theirs = [a for a in actions if a.login == person.login]
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP=GROUP)
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        asyncio.run(publish(fresh_topics, list(actions)))
        wait_until_committed(fresh_topics, GROUP, [Topic.ACTIONS], worker=worker, log=log)
        before = billed(env)

        erased = spur(env, "erase", "--login", person.login, "--yes", "--format", "json")
        assert erased.returncode == 0, erased.stderr
        # A spool sent again under the producer's own keys, and one action never seen.
        late = msgspec.structs.replace(person, action_id=uuid.uuid4(), parent_action_id=None)
        asyncio.run(publish_miskeyed(fresh_topics, [*theirs, late]))
        wait_until_committed(fresh_topics, GROUP, [Topic.ACTIONS], worker=worker, log=log)

        records = asyncio.run(read_records(fresh_topics, Topic.ACTIONS))
        with_login = [r for r in records if r.value and person.login.encode() in r.value]
        # Only what the producers sent holds the login: the worker's copies do not.
        assert len(with_login) == 2 * len(theirs) + 1
        detours = [r for r in records if r.key == action_key(late.action_id)]
        assert len(detours) == 1
        assert detours[0].value is not None
        assert person.client_ip.encode() not in detours[0].value
        # Billed once each, the late one too; the copies are duplicates, not conflicts.
        assert billed(env) == with_one_more(before, late)
        assert dead_letters(env) == 0
        assert set(rows_about(store_url, "login", person.login).values()) == {0}
