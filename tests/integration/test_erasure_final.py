"""Erasure is final while workers run (docs/guarantees.md), attacked the ways data comes back:
a client re-sending its spool, a late action never seen before, an offset reset
(a new consumer group replays the whole topic), and a worker restart."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path

import msgspec
import pytest

from spur.client import Publisher
from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import parse_store_url
from spur_schemas.events import Action, Consent
from spur_schemas.topics import Topic
from spur_sinks.erasure import count_rows
from spur_sinks.store import ServerStore
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import billed_by_cli
from tests.oracle import expected_billing

pytestmark = pytest.mark.integration

TOPICS = [Topic.ACTIONS.value, Topic.CONSENT.value]


async def publish(bootstrap: KafkaTarget, events: list[Action | Consent]) -> None:
    async with Publisher(bootstrap) as publisher:
        for event in events:
            await publisher.publish(event)


def billed(env: dict[str, str]) -> dict[int, tuple[int, int, int]]:
    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert result.returncode == 0, result.stderr
    return billed_by_cli(result.stdout)


def rows_about(store_url: str, kind: str, value: str) -> dict[str, int]:
    store = ServerStore(parse_store_url(store_url), 30.0)
    try:
        return count_rows(store, kind, value)  # type: ignore[arg-type]  # "customer" | "login"
    finally:
        store.close()


def dead_letters(env: dict[str, str]) -> int:
    result = spur(env, "query", "SELECT count() AS n FROM dead_letters", "--format", "json")
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)[0]["n"])


def with_one_more(
    billing: dict[int, tuple[int, int, int]], action: Action
) -> dict[int, tuple[int, int, int]]:
    """``billing`` (customer -> bytes in, bytes out, actions) with ``action`` billed too."""
    bytes_in, bytes_out, count = billing[action.customer_id]
    more = (bytes_in + action.bytes_in, bytes_out + action.bytes_out, count + 1)
    return {**billing, action.customer_id: more}


def a_late_copy_never_seen(action: Action) -> Action:
    """An action of the same subject from before the erasure, arriving only now."""
    return msgspec.structs.replace(action, action_id=uuid.uuid4(), parent_action_id=None)


def test_an_erased_customer_stays_erased_while_workers_run(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=6, sessions_per_customer=8, seed=41))
    victim = actions[0].customer_id
    others = [a for a in actions if a.customer_id != victim]
    # One of the victim's events is bad: its dead letter holds the victim's data too.
    broken = msgspec.structs.replace(
        actions[0], action_id=uuid.uuid4(), ended_at=actions[0].started_at - dt.timedelta(seconds=1)
    )
    actions = [*actions, broken]
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="erase")
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        asyncio.run(publish(fresh_topics, list(actions)))
        wait_until_committed(fresh_topics, "erase", TOPICS, worker=worker, log=log)
        assert billed(env)[victim][2] > 0
        assert dead_letters(env) == 1

        erased = spur(env, "erase", "--customer", str(victim), "--yes", "--format", "json")
        assert erased.returncode == 0, erased.stderr
        assert set(rows_about(store_url, "customer", str(victim)).values()) == {0}

        # The app server re-sends its whole spool, and one old action arrives late.
        late = a_late_copy_never_seen(next(a for a in actions if a.customer_id == victim))
        asyncio.run(publish(fresh_topics, [*actions, late]))
        wait_until_committed(fresh_topics, "erase", TOPICS, worker=worker, log=log)
        assert set(rows_about(store_url, "customer", str(victim)).values()) == {0}
        assert billed(env) == expected_billing(others)

    # An offset reset: a new group replays every retained message from offset 0.
    replay_env = {**env, "SPUR_CONSUMER_GROUP": "erase-replay"}
    with running_worker(replay_env, log) as worker:
        wait_until_committed(fresh_topics, "erase-replay", TOPICS, worker=worker, log=log)
    assert set(rows_about(store_url, "customer", str(victim)).values()) == {0}
    assert billed(env) == expected_billing(others)
    assert dead_letters(env) == 0


def test_an_erased_login_stays_erased_and_billing_is_unchanged(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=4, sessions_per_customer=8, seed=43))
    person = actions[0]
    consent = Consent(
        consent_id=uuid.uuid4(), ts=person.started_at, customer_id=person.customer_id,
        login=person.login, purpose="extended_processing", granted=True, source="checkbox:signup",
    )  # fmt: skip
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="forget")
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        asyncio.run(publish(fresh_topics, [consent, *actions]))
        wait_until_committed(fresh_topics, "forget", TOPICS, worker=worker, log=log)
        before = billed(env)
        assert rows_about(store_url, "login", person.login)["actions"] > 0

        erased = spur(env, "erase", "--login", person.login, "--yes", "--format", "json")
        assert erased.returncode == 0, erased.stderr
        late = a_late_copy_never_seen(person)
        asyncio.run(publish(fresh_topics, [consent, *actions, late]))
        wait_until_committed(fresh_topics, "forget", TOPICS, worker=worker, log=log)

        assert set(rows_about(store_url, "login", person.login).values()) == {0}
        # The person's actions stay billed to the customer, the late one too.
        expected = with_one_more(before, late)
        assert billed(env) == expected
        # The consent tombstones erase wrote to Kafka are no dead letters.
        assert dead_letters(env) == 0

    replay_env = {**env, "SPUR_CONSUMER_GROUP": "forget-replay"}
    with running_worker(replay_env, log) as worker:
        wait_until_committed(fresh_topics, "forget-replay", TOPICS, worker=worker, log=log)
    assert set(rows_about(store_url, "login", person.login).values()) == {0}
    assert billed(env) == expected


def test_every_command_works_while_a_worker_runs(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=3, sessions_per_customer=4, seed=47))
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="busy")
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        asyncio.run(publish(fresh_topics, list(actions)))
        wait_until_committed(fresh_topics, "busy", [Topic.ACTIONS.value], worker=worker, log=log)
        export = tmp_path / "subject.jsonl"
        for command in (
            ["export", "--customer", str(actions[0].customer_id), "--out", str(export)],
            ["reconcile", "--month", "2026-11", "--repair"],
            ["billing", "close", "--month", "2026-11"],
            ["billing", "--month", "2026-11", "--format", "json"],
            ["retention"],
            ["deadletters"],
            ["query", "top_customers"],
            ["status", "--format", "json"],
            ["erase", "--login", actions[-1].login, "--yes"],
        ):
            result = spur(env, *command)
            assert result.returncode == 0, (command, result.stdout, result.stderr)
            assert worker.poll() is None
        assert export.read_text().count("\n") > 0
