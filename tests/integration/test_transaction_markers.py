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
from spur_schemas.events import Action
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


def test_the_group_commits_past_a_transactions_markers(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=4, sessions_per_customer=3, days=1, seed=3))
    third = len(actions) // 3
    first, aborted, last = actions[:third], actions[third : 2 * third], actions[2 * third :]
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="markers")
    log = tmp_path / "worker.log"
    # A new group finds nothing but an aborted transaction (found from outside: a
    # partition the group never committed stayed behind it for good).
    asyncio.run(send_in_transactions(fresh_topics, as_sent(aborted), []))
    with running_worker(env, log) as worker:
        wait_until_committed(
            fresh_topics, "markers", [Topic.ACTIONS], worker=worker, log=log, timeout=60
        )
        # Each partition's log ends with a commit marker, then with an aborted
        # transaction's actions and its marker, then (an aborted transaction
        # before it) with a commit marker again.
        nothing: list[Action] = []
        steps = ((nothing, first, first), (aborted, nothing, first), (aborted, last, first + last))
        for sent_aborted, sent_committed, billed_by_then in steps:
            asyncio.run(
                send_in_transactions(fresh_topics, as_sent(sent_aborted), as_sent(sent_committed))
            )
            wait_until_billed(env, expected_billing(billed_by_then), worker.log_tail)
            wait_until_committed(
                fresh_topics, "markers", [Topic.ACTIONS], worker=worker, log=log, timeout=60
            )
    assert billed(env) == expected_billing(first + last)
