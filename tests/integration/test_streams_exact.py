"""Exact usage windows through a real broker, under duplicates, disorder and breakage."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.topics import Topic
from tests.conftest import recreate_topics
from tests.disorder import Disorder, deliver
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import billed_by_cli, latest_windows, publish_all
from tests.oracle import expected_billing, expected_windows
from tests.topic_contents import count_by_reason, read_dead_letters

pytestmark = pytest.mark.integration


def test_windows_equal_the_ground_truth(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(
        WorkloadShape(customers=200, sessions_per_customer=44, days=20, seed=5)
    )
    delivery = deliver(actions, Disorder())
    assert len(actions) >= 50_000
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="exact")
    log = tmp_path / "worker.log"

    with running_worker(env, log) as worker:
        asyncio.run(publish_all(fresh_topics, delivery.messages))
        wait_until_committed(fresh_topics, "exact", [Topic.ACTIONS], worker=worker, log=log)

    assert latest_windows(fresh_topics) == expected_windows(actions)
    letters = asyncio.run(read_dead_letters(fresh_topics))
    assert dict(count_by_reason(letters)) == delivery.malformed
    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert billed_by_cli(result.stdout) == expected_billing(actions)


def test_a_recreated_topic_bills_new_actions_at_reused_offsets(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    """Offsets are not identity (docs/guarantees.md): a topic deleted and created again restarts
    at offset 0, and every new action there is billed, none taken for a replay."""
    before = simulate_actions(WorkloadShape(customers=20, sessions_per_customer=10, seed=31))
    after = simulate_actions(WorkloadShape(customers=20, sessions_per_customer=10, seed=32))
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="recreated")
    log = tmp_path / "worker.log"
    for actions in (before, after):
        if actions is after:
            recreate_topics(fresh_topics)  # worker stopped; offsets restart at 0
        with running_worker(env, log) as worker:
            asyncio.run(
                publish_all(fresh_topics, deliver(actions, Disorder(malformed_rate=0)).messages)
            )
            wait_until_committed(fresh_topics, "recreated", [Topic.ACTIONS], worker=worker, log=log)
    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert billed_by_cli(result.stdout) == expected_billing(before + after)
    reconciled = spur(env, "reconcile", "--month", "2026-11", "--format", "json")
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
