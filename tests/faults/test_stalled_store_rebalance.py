"""A rebalance while the store stalls moves no partition with a batch in flight.

Found from outside: the store stopped for 12-16 s while a worker's batch
waited on it, and a group member killed -9 meanwhile: the group rebalanced
without the waiting member (aiokafka's rebalance timeout defaulted to the
session timeout, 10 s), gave its partitions to another member, which folded
the batch, and the waiting batch folded it again when the store came back:
billed over. Here: one worker of two processes and a second worker, the
store (its server and engine) stopped with SIGSTOP for 25 s mid-stream, one
actions process killed -9 meanwhile; billing, capacity and dead letters
must equal the oracle's. Honest about its reach: without the fix
(spur.worker.consume.actions_consumer's rebalance_timeout_ms) it passed
twice (15 s and 25 s): the double fold needs a member with nothing in
flight to take the partitions while the store is still stopped, which this
setup does not force. It guards the scenario; the outside run showed the hole.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.local_state import RunningStore
from spur.worker.launch import start_worker
from spur_schemas.topics import Topic
from spur_sinks.store import Store
from tests.faults.test_any_key_any_worker import (
    GROUP,
    assert_decided_once,
    copies,
    lag,
    publish,
    worker_envs,
)
from tests.faults.test_rebalance import group_members
from tests.faults.test_worker_processes import actions_processes, wait_for
from tests.integration.helpers import spur, wait_until_committed
from tests.topic_contents import read_records

pytestmark = [pytest.mark.integration, pytest.mark.faults]

STALL_SECONDS = 25.0  # a session timeout (10 s) for the killed one, then a rebalance timeout


def _store_processes(running: RunningStore) -> list[int]:
    """The store's server and its engine (the session's local store)."""
    kids = []
    for task in Path(f"/proc/{running.pid}/task").iterdir():
        kids += [int(pid) for pid in (task / "children").read_text().split()]
    return [running.pid, *kids]


def test_a_member_killed_while_the_store_stalls_bills_every_action_once(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str, store: Store,
    local_store: RunningStore,
) -> None:  # fmt: skip
    if os.environ.get("SPUR_CLICKHOUSE_URL", "").startswith("clickhouse"):
        pytest.skip("stops the local store's processes; an external store is not ours to stop")
    actions = simulate_actions(WorkloadShape(customers=40, sessions_per_customer=30, days=10))
    messages = copies(actions, seed=29)
    half = len(messages) // 2
    envs, logs = worker_envs(fresh_topics, [tmp_path / "first", tmp_path / "second"], store_url)
    stopped: list[int] = []
    with (
        start_worker(envs[0], logs[0], processes=2) as first,
        start_worker(envs[1], logs[1]) as second,
    ):
        wait_for(lambda: len(actions_processes(first.pid)) >= 1, "the first worker's 2nd process")
        wait_for(
            lambda: asyncio.run(group_members(fresh_topics, GROUP)) == 3, "three group members"
        )
        asyncio.run(publish(fresh_topics, messages[:half]))
        assert lag(fresh_topics) > 0  # mid-stream: batches in flight when the store stops
        try:
            for pid in _store_processes(local_store):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            os.kill(min(actions_processes(first.pid)), signal.SIGKILL)
            time.sleep(STALL_SECONDS)
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
        asyncio.run(publish(fresh_topics, messages[half:]))
        wait_until_committed(
            fresh_topics, GROUP, [Topic.ACTIONS], worker=first, log=logs[0], timeout=300
        )
        assert first.poll() is None
        assert second.poll() is None
    records = asyncio.run(read_records(fresh_topics, Topic.ACTIONS))
    billed = spur(envs[1], "billing", "--month", "2026-11", "--format", "json")
    assert billed.returncode == 0, billed.stderr
    assert_decided_once(
        records, billed.stdout, store, actions=len(actions), published=len(messages)
    )
