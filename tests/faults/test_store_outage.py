"""The store fails for 10 s mid-run: nothing is lost, nothing is doubled."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from spur.broker import consumer_lag
from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.topics import Topic
from tests.disorder import Disorder, deliver
from tests.faults.faulty_worker import start_faulty_worker
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import (
    billed_by_cli,
    latest_windows,
    publish_all,
    stored_rows_and_ids,
)
from tests.oracle import expected_billing, expected_windows

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_a_store_outage_stalls_the_pipeline_and_loses_nothing(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=50, sessions_per_customer=40, days=10))
    delivery = deliver(actions, Disorder(seed=8))
    half = len(delivery.messages) // 2
    fault = tmp_path / "store-down"
    env = spur_env(
        fresh_topics,
        tmp_path,
        store_url,
        SPUR_CONSUMER_GROUP="outage",
    )
    log = tmp_path / "worker.log"

    with start_faulty_worker(env, log, fault) as worker:
        asyncio.run(publish_all(fresh_topics, delivery.messages[:half]))
        wait_until_committed(fresh_topics, "outage", [Topic.ACTIONS], worker=worker, log=log)
        fault.touch()  # the store goes away
        asyncio.run(publish_all(fresh_topics, delivery.messages[half:]))
        down_since = time.monotonic()
        while time.monotonic() - down_since < 10:
            lag = sum(asyncio.run(consumer_lag(fresh_topics, "outage", [Topic.ACTIONS])).values())
            assert lag > 0, "offsets were committed while the store was down"
            assert worker.poll() is None
            time.sleep(1)
        fault.unlink()  # and comes back
        wait_until_committed(fresh_topics, "outage", [Topic.ACTIONS], worker=worker, log=log)

    assert "injected outage" in log.read_text()  # the worker really hit the outage
    assert latest_windows(fresh_topics) == expected_windows(actions)
    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert billed_by_cli(result.stdout) == expected_billing(actions)
    assert stored_rows_and_ids(env) == [{"rows": len(actions), "ids": len(actions)}]


def test_stopping_the_worker_during_an_outage_loses_nothing(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    """SIGTERM while every store call fails: no offset of an unstored batch is committed.

    The actions consumer commits a batch's offsets only after the batch is
    stored; at shutdown its store retries end with an exception instead.
    """
    actions = simulate_actions(WorkloadShape(customers=20, sessions_per_customer=20, days=5))
    messages = deliver(actions, Disorder(seed=3)).messages
    fault = tmp_path / "store-down"
    env = spur_env(
        fresh_topics,
        tmp_path,
        store_url,
        SPUR_CONSUMER_GROUP="stop",
    )
    log = tmp_path / "worker.log"
    fault.touch()
    with start_faulty_worker(env, log, fault):  # stopped with SIGTERM (then SIGKILL) while failing
        asyncio.run(publish_all(fresh_topics, messages))
        deadline = time.monotonic() + 60
        while "injected outage" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "injected outage" in log.read_text()
    lag = sum(asyncio.run(consumer_lag(fresh_topics, "stop", [Topic.ACTIONS])).values())
    assert lag == len(messages), "offsets of unstored messages were committed at shutdown"
    fault.unlink()
    with running_worker(env, log) as worker:
        wait_until_committed(fresh_topics, "stop", [Topic.ACTIONS], worker=worker, log=log)
    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert billed_by_cli(result.stdout) == expected_billing(actions)
