"""A producer's aborted transaction never happened: its actions are not billed.

Found from outside: the actions consumer read uncommitted (aiokafka's
default), so actions a transactional producer sent and then aborted were
billed, and a retry of them with other content became a conflict.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaProducer

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.events import Action
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from spur_sinks.store import Store, StoreError
from tests.integration.helpers import running_worker, spur, spur_env
from tests.integration.streams_helpers import billed_by_cli, publish_all
from tests.oracle import expected_billing
from tests.streams.helpers import consent, web

pytestmark = pytest.mark.integration


Sent = list[tuple[str, bytes, bytes]]  # topic, key, value


def as_sent(actions: list[Action]) -> Sent:
    return [(Topic.ACTIONS, str(a.action_id).encode(), encode(a)) for a in actions]


async def send_in_transactions(bootstrap: KafkaTarget, aborted: Sent, committed: Sent) -> None:
    """``aborted`` in a transaction that is aborted, then ``committed`` in one committed."""
    producer = AIOKafkaProducer(**bootstrap.client_kwargs(), transactional_id="spur-test-aborts")
    await producer.start()
    try:
        for messages, commit in ((aborted, False), (committed, True)):
            await producer.begin_transaction()
            for topic, key, value in messages:
                await producer.send(topic, value, key=key)
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
        asyncio.run(send_in_transactions(fresh_topics, as_sent(aborted), as_sent(committed)))
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
    """Until billing shows ``expected`` (it fails until the worker made the tables)."""
    deadline = time.monotonic() + 180
    while True:
        result = spur(env, "billing", "--month", "2026-11", "--format", "json")
        got = billed_by_cli(result.stdout) if result.returncode == 0 else result.stderr
        if got == expected:
            return
        assert time.monotonic() < deadline, f"billed {got}, expected {expected}\n{log_tail()}"
        time.sleep(1)


def test_consent_and_web_requests_of_an_aborted_transaction_are_not_stored(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str, store: Store
) -> None:
    """Found from outside: Faust's consumers read uncommitted, and an aborted
    consent grant was stored (an action's profile was kept by it)."""
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()

    def messages(login: str, path: str) -> Sent:
        return [
            (Topic.CONSENT, login.encode(), msgspec.json.encode(consent(login))),
            (Topic.WEB, b"w", msgspec.json.encode(web(path=path, ts=recent))),
        ]

    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="agent-aborts")
    with running_worker(env, tmp_path / "worker.log") as worker:
        asyncio.run(
            send_in_transactions(
                fresh_topics, messages("aborted@example.com", "/aborted"),
                messages("kept@example.com", "/kept"),
            )
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while stored(store) != ({"kept@example.com"}, {"/kept"}):
            assert time.monotonic() < deadline, (stored(store), worker.log_tail())
            time.sleep(1)


def stored(store: Store) -> tuple[set[str], set[str]]:
    """The logins in the consent ledger and the paths of web requests (none before
    the worker made the tables)."""
    try:
        return _stored(store)
    except StoreError:
        return set(), set()


def _stored(store: Store) -> tuple[set[str], set[str]]:
    logins = {
        str(r["login"]) for r in store.query(f"SELECT login FROM {store.database}.consent_log")
    }
    paths = {str(r["path"]) for r in store.query(f"SELECT path FROM {store.database}.web_requests")}
    return logins, paths
