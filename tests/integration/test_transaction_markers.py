"""After a producer's transactions the actions group catches up to the end: lag 0.

A transaction ends with a marker at an offset of its own that no consumer is
given as a message. Found from outside: the worker committed the offset after
the last action it was given, so behind every transaction's marker the group
stayed one short of the end (and behind an aborted one, short by its actions
too): `spur status` and the lag gauge said 1 per partition for ever, and a
check waiting for lag 0 waited in vain.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.topics import Topic
from tests.integration.helpers import running_worker, spur_env, wait_until_committed
from tests.integration.test_aborted_transactions import (
    as_sent,
    billed,
    send_in_transactions,
    wait_until_billed,
)
from tests.oracle import expected_billing

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("last", ["committed", "aborted"])
def test_the_group_commits_past_a_transactions_marker(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str, last: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=4, sessions_per_customer=3, days=1, seed=3))
    half = len(actions) // 2
    first, second = actions[:half], actions[half:]
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="markers")
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        if last == "committed":  # each partition's log ends with a commit marker
            asyncio.run(send_in_transactions(fresh_topics, as_sent(second), as_sent(first)))
        else:  # with an aborted transaction's actions and its marker
            asyncio.run(send_in_transactions(fresh_topics, [], as_sent(first)))
            asyncio.run(send_in_transactions(fresh_topics, as_sent(second), []))
        wait_until_billed(env, expected_billing(first), worker.log_tail)
        wait_until_committed(
            fresh_topics, "markers", [Topic.ACTIONS], worker=worker, log=log, timeout=60
        )
    assert billed(env) == expected_billing(first)
