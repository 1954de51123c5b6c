"""A worker killed with SIGKILL five times mid-run still bills exactly."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from spur.broker import consumer_lag
from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.topics import Topic
from tests.disorder import Disorder, deliver
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import billed_by_cli, latest_windows, publish_all
from tests.oracle import expected_billing, expected_windows

pytestmark = [pytest.mark.integration, pytest.mark.faults]
KILLS = 5


def remaining(bootstrap: KafkaTarget, group: str) -> int:
    try:
        return sum(asyncio.run(consumer_lag(bootstrap, group, [Topic.ACTIONS])).values())
    except Exception:  # the group coordinator may be moving during a restart
        return -1


def test_sigkill_five_times_during_a_run(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(
        WorkloadShape(customers=200, sessions_per_customer=88, days=20, seed=9)
    )
    assert len(actions) >= 100_000
    delivery = deliver(actions, Disorder(seed=4))
    asyncio.run(publish_all(fresh_topics, delivery.messages))
    total = len(delivery.messages)
    # A killed member is evicted after the session timeout; the restarted worker's
    # partitions wait for that. The shortest the broker allows (6 s, not 10): the
    # five restarts took ~50 s of the test.
    env = spur_env(
        fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="crash",
        SPUR_BATCH_SIZE="5000", SPUR_SESSION_TIMEOUT_SECONDS="6",
    )  # fmt: skip
    log = tmp_path / "worker.log"

    kills_done = 0
    for kill in range(1, KILLS + 1):
        # Kill once the committed progress passes kill/(KILLS+1) of the input.
        target = total - total * kill // (KILLS + 1)
        with running_worker(env, log) as worker:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                lag = remaining(fresh_topics, "crash")
                if 0 <= lag <= target:
                    break
                assert worker.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            kills_done += 1
        assert 0 < remaining(fresh_topics, "crash") < total, "the kill was not mid-run"

    with running_worker(env, log) as worker:
        wait_until_committed(fresh_topics, "crash", [Topic.ACTIONS], worker=worker, log=log)

    assert kills_done == KILLS
    assert latest_windows(fresh_topics) == expected_windows(actions)
    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert billed_by_cli(result.stdout) == expected_billing(actions)
