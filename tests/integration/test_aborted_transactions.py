"""A producer's aborted transaction never happened: its actions are not billed.

Found from outside: the actions consumer read uncommitted (aiokafka's
default), so actions a transactional producer sent and then aborted were
billed, and a retry of them with other content became a conflict.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.events import Action
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from tests.integration.helpers import running_worker, spur, spur_env
from tests.integration.streams_helpers import billed_by_cli, publish_all
from tests.oracle import expected_billing

pytestmark = pytest.mark.integration


async def send_in_transactions(
    bootstrap: KafkaTarget, aborted: list[Action], committed: list[Action]
) -> None:
    producer = AIOKafkaProducer(**bootstrap.client_kwargs(), transactional_id="spur-test-aborts")
    await producer.start()
    try:
        for actions, commit in ((aborted, False), (committed, True)):
            await producer.begin_transaction()
            for action in actions:
                await producer.send(
                    Topic.ACTIONS, encode(action), key=str(action.action_id).encode()
                )
            if commit:
                await producer.commit_transaction()
            else:
                await producer.abort_transaction()
    finally:
        await producer.stop()


def test_actions_of_an_aborted_transaction_are_not_billed(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=4, sessions_per_customer=3, days=1, seed=7))
    by_customer = sorted({a.customer_id for a in actions})
    aborted = [a for a in actions if a.customer_id == by_customer[0]]
    committed = [a for a in actions if a.customer_id != by_customer[0]]
    assert aborted
    assert committed
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="aborts")
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        asyncio.run(send_in_transactions(fresh_topics, aborted, committed))
        # Then plain actions behind the transactions: once they are committed, the
        # aborted ones were read past. (Not the group's lag alone: a transaction's
        # closing marker is never a message, so its offset stays uncommitted.)
        tail = simulate_actions(WorkloadShape(customers=1, sessions_per_customer=1, seed=8))
        asyncio.run(
            publish_all(fresh_topics, [(str(a.action_id).encode(), encode(a)) for a in tail])
        )
        wait_until_billed(env, expected_billing(committed + tail), worker.log_tail)
    assert billed(env) == expected_billing(committed + tail)


def billed(env: dict[str, str]) -> dict[int, tuple[int, int, int]]:
    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert result.returncode == 0, result.stderr
    return billed_by_cli(result.stdout)


def wait_until_billed(
    env: dict[str, str], expected: dict[int, tuple[int, int, int]], log_tail: Callable[[], str]
) -> None:
    deadline = time.monotonic() + 120
    while (got := billed(env)) != expected:
        assert time.monotonic() < deadline, f"billed {got}, expected {expected}\n{log_tail()}"
        time.sleep(1)
