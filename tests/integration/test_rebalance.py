"""A second worker joins the consumer group mid-run and leaves again: exact totals.

Two workers cannot share one embedded store (chdb: one process per
directory; sharing takes a ClickHouse server, which cannot run here). So the
second worker runs against a store that is down (``SPUR_STORE_FAULT_FILE``):
in the rebalance it takes over partitions, fetches and fails to store a
batch, commits nothing, and leaves on SIGTERM. The first worker loses those
partitions mid-run, gets them back, forgets their cached windows and
watermarks, and replays them from the last commit. What this cannot show
here is two workers writing the same store at once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from spur.simulate import Disorder, WorkloadShape, deliver, simulate_actions
from spur.topics import Topic
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import (
    billed_by_cli,
    latest_windows,
    publish_all,
    stored_rows_and_ids,
)
from tests.oracle import expected_billing, expected_windows

pytestmark = [pytest.mark.integration, pytest.mark.faults]

GROUP = "rebalance"


def wait_for_line(log: Path, text: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text():
            return
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not in {log} after {timeout} s")


def test_a_worker_joining_and_leaving_mid_run_changes_no_total(
    fresh_topics: str, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=60, sessions_per_customer=40, days=10))
    messages = deliver(actions, Disorder(seed=11)).messages
    third = len(messages) // 3
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    store_down = second_dir / "store-down"
    store_down.touch()
    first_env = spur_env(fresh_topics, first_dir, store_url, SPUR_CONSUMER_GROUP=GROUP)
    second_env = spur_env(
        fresh_topics,
        second_dir,
        store_url,
        SPUR_CONSUMER_GROUP=GROUP,
        SPUR_STORE_FAULT_FILE=str(store_down),
    )
    first_log, second_log = first_dir / "worker.log", second_dir / "worker.log"

    with running_worker(first_env, first_log) as first:
        asyncio.run(publish_all(fresh_topics, messages[:third]))
        wait_until_committed(fresh_topics, GROUP, [Topic.ACTIONS], worker=first, log=first_log)
        with running_worker(second_env, second_log) as second:
            asyncio.run(publish_all(fresh_topics, messages[third : 2 * third]))
            # The newcomer got partitions in the rebalance and read a batch of them.
            wait_for_line(second_log, "injected outage")
            assert second.poll() is None
            assert first.poll() is None
        asyncio.run(publish_all(fresh_topics, messages[2 * third :]))
        wait_until_committed(fresh_topics, GROUP, [Topic.ACTIONS], worker=first, log=first_log)

    assert latest_windows(fresh_topics) == expected_windows(actions)
    billed = spur(first_env, "billing", "--month", "2026-11", "--format", "json")
    assert billed_by_cli(billed.stdout) == expected_billing(actions)
    assert stored_rows_and_ids(first_env) == [{"rows": len(actions), "ids": len(actions)}]
