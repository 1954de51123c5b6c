"""Workers sharing one store and one group: two run throughout, a third joins and leaves.

All three write the same ClickHouse store concurrently (the local server,
as in production), so the rebalances move partitions between writers mid
run: a partition's batch in flight finishes and commits before it moves, and
the next owner continues from that commit. Totals exact, rows == unique ids.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.topics import Topic
from spur_sinks.store import Store
from tests.disorder import Disorder, deliver
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import (
    billed_by_cli,
    latest_windows,
    publish_all,
    stored_rows_and_ids,
)
from tests.oracle import expected_billing, expected_windows
from tests.shortfall import explain_windows

pytestmark = [pytest.mark.integration, pytest.mark.faults]

GROUP = "rebalance"


def events_read(state_dir: Path) -> float:
    """The worker's own count of messages read (its /metrics), 0 before it serves them."""
    try:
        url = json.loads((state_dir / "worker.json").read_text())["metrics"]
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback
            text = response.read().decode()
    except (OSError, ValueError, KeyError):
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('spur_events_in_total{topic="spur.actions.v1"}')
    )


async def group_members(bootstrap: KafkaTarget, group: str) -> int:
    admin = AIOKafkaAdminClient(**bootstrap.client_kwargs())
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    # (error_code, group_id, state, protocol_type, protocol, members, ...)
    (described,) = response.groups
    return len(described[5])


def test_workers_joining_and_leaving_a_shared_store_change_no_total(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str, store: Store
) -> None:
    actions = simulate_actions(WorkloadShape(customers=60, sessions_per_customer=40, days=10))
    messages = deliver(actions, Disorder(seed=11)).messages
    third = len(messages) // 3
    dirs = [tmp_path / name for name in ("first", "second", "third")]
    envs = []
    for directory in dirs:
        directory.mkdir()
        envs.append(spur_env(fresh_topics, directory, store_url, SPUR_CONSUMER_GROUP=GROUP))
    logs = [directory / "worker.log" for directory in dirs]

    with running_worker(envs[0], logs[0]) as first, running_worker(envs[1], logs[1]) as second:
        asyncio.run(publish_all(fresh_topics, messages[:third]))
        wait_until_committed(fresh_topics, GROUP, [Topic.ACTIONS], worker=first, log=logs[0])
        with running_worker(envs[2], logs[2]) as joiner:
            # Once the newcomer is in the group (a busy machine took longer
            # than publishing the middle third: it never read anything), a
            # slice at a time until it has processed some of its partitions'.
            deadline = time.monotonic() + 120
            while asyncio.run(group_members(fresh_topics, GROUP)) < 3:
                assert time.monotonic() < deadline, logs[2].read_text()[-3000:]
                assert joiner.poll() is None, logs[2].read_text()[-3000:]
                time.sleep(0.5)
            middle = messages[third : 2 * third]
            slices = [middle[n : n + 500] for n in range(0, len(middle), 500)]
            deadline = time.monotonic() + 120
            while slices and events_read(dirs[2] / "state") == 0:
                assert time.monotonic() < deadline, logs[2].read_text()[-3000:]
                assert joiner.poll() is None, logs[2].read_text()[-3000:]
                asyncio.run(publish_all(fresh_topics, slices.pop(0)))
                time.sleep(1.0)
            for rest in slices:
                asyncio.run(publish_all(fresh_topics, rest))
            assert events_read(dirs[2] / "state") > 0, "the third worker never took partitions"
            wait_until_committed(fresh_topics, GROUP, [Topic.ACTIONS], worker=joiner, log=logs[2])
        asyncio.run(publish_all(fresh_topics, messages[2 * third :]))
        wait_until_committed(fresh_topics, GROUP, [Topic.ACTIONS], worker=first, log=logs[0])
        assert second.poll() is None
        assert events_read(dirs[0] / "state") > 0
        assert events_read(dirs[1] / "state") > 0

    assert latest_windows(fresh_topics) == expected_windows(actions), explain_windows(
        store, expected_windows(actions), actions
    )
    billed = spur(envs[0], "billing", "--month", "2026-11", "--format", "json")
    assert billed_by_cli(billed.stdout) == expected_billing(actions)
    assert stored_rows_and_ids(envs[0]) == [{"rows": len(actions), "ids": len(actions)}]
