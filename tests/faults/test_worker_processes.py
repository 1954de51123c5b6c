"""``spur worker --processes 3``: one worker, three consumers of actions, one killed -9.

Actions arrive as producers in the field key them (tests/faults/
test_any_key_any_worker.py: every id at least twice, on partitions of other
rules' choosing, a fifth with conflicting content). Mid-stream one of the
worker's extra actions processes is killed with SIGKILL: the worker starts
another by itself and the group goes on. Billing, capacity, dead letters and
the worker's one /metrics must account for every message, exactly.
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
from spur.worker.launch import start_worker
from spur_schemas.topics import Topic
from spur_sinks.store import Store
from tests.faults.test_any_key_any_worker import assert_decided_once, copies, lag, publish
from tests.faults.test_rebalance import events_read, group_members
from tests.integration.helpers import spur, spur_env, wait_until_committed
from tests.processes import children, command_line
from tests.topic_contents import read_records

pytestmark = [pytest.mark.integration, pytest.mark.faults]

GROUP = "anykey"  # the group the helpers of test_any_key_any_worker read


def actions_processes(pid: int) -> set[int]:
    """The live actions processes ``pid`` spawned (not multiprocessing's resource tracker)."""
    return {child for child in children(pid) if b"spawn_main" in command_line(child)}


def wait_for(condition: object, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_three_processes_one_killed_bill_every_action_once(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str, store: Store
) -> None:
    actions = simulate_actions(WorkloadShape(customers=40, sessions_per_customer=30, days=10))
    messages = copies(actions, seed=23)
    half = len(messages) // 2
    env = spur_env(
        fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP=GROUP, SPUR_BATCH_SIZE="500"
    )
    log = tmp_path / "worker.log"
    with start_worker(env, log, processes=3) as worker:
        wait_for(lambda: len(actions_processes(worker.pid)) >= 2, "two actions processes")
        wait_for(
            lambda: asyncio.run(group_members(fresh_topics, GROUP)) == 3, "three group members"
        )
        asyncio.run(publish(fresh_topics, messages[:half]))
        assert lag(fresh_topics) > 0  # mid-stream: killed with work left
        victim = min(actions_processes(worker.pid))
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: len(actions_processes(worker.pid) - {victim}) >= 2,
            "the killed process started again",
        )
        asyncio.run(publish(fresh_topics, messages[half:]))
        wait_until_committed(
            fresh_topics, GROUP, [Topic.ACTIONS], worker=worker, log=log, timeout=240
        )
        assert worker.poll() is None
        records = asyncio.run(read_records(fresh_topics, Topic.ACTIONS))
        # One /metrics for the whole worker: every message read, by whichever process.
        # The actions processes send their counts through a queue that the main
        # process drains every half second: the last batch's may arrive just after
        # its commit (a fresh-clone run read one batch short, 24,822 of 25,322).
        wait_for(
            lambda: events_read(tmp_path / "state") >= len(records),
            "every message read counted on /metrics",
            timeout=30,
        )
        pids = actions_processes(worker.pid)
    assert "exited (code -9); starting another" in log.read_text()
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids), "a child outlived the worker"

    billed = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert billed.returncode == 0, billed.stderr
    assert_decided_once(
        records, billed.stdout, store, actions=len(actions), published=len(messages)
    )
