"""The local store killed and brought back while a worker runs: nobody restarts the worker.

The worker finds the local store through the state directory (no
SPUR_CLICKHOUSE_URL), as after `spur dev up`. The store is killed -9 mid-run
and started again the way `spur dev up` does: it takes its port again, the
worker's retries reach it, and billing is exact. The worker logs one line
per failed attempt and at most one traceback.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import pytest

from spur.broker import consumer_lag
from spur.client.kafka import KafkaTarget
from spur.dev.local_store import LocalStore
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.topics import Topic
from tests.disorder import Disorder, deliver
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import billed_by_cli, publish_all, stored_rows_and_ids
from tests.oracle import expected_billing

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_a_restarted_local_store_is_found_again_without_restarting_the_worker(
    fresh_topics: KafkaTarget, tmp_path: Path
) -> None:
    actions = simulate_actions(WorkloadShape(customers=30, sessions_per_customer=30, days=5))
    messages = deliver(actions, Disorder(seed=21)).messages
    half = len(messages) // 2
    env = spur_env(fresh_topics, tmp_path, "", SPUR_CONSUMER_GROUP="restart")
    del env["SPUR_CLICKHOUSE_URL"]  # the local store of the state directory, as after dev up
    store_dir = Path(env["SPUR_STATE_DIR"]) / "store"
    store = LocalStore(store_dir)
    first = store.start()
    log = tmp_path / "worker.log"
    try:
        with running_worker(env, log) as worker:
            asyncio.run(publish_all(fresh_topics, messages[:half]))
            wait_until_committed(fresh_topics, "restart", [Topic.ACTIONS], worker=worker, log=log)
            os.kill(first.pid, signal.SIGKILL)  # the store dies mid-run
            store.stop()  # reaps it
            asyncio.run(publish_all(fresh_topics, messages[half:]))
            down_since = time.monotonic()
            while time.monotonic() - down_since < 8:
                lag = asyncio.run(consumer_lag(fresh_topics, "restart", [Topic.ACTIONS]))
                assert sum(lag.values()) > 0, "offsets were committed while the store was down"
                assert worker.poll() is None, worker.log_tail()
                time.sleep(1)
            second = store.start()  # as `spur dev up` starts it again
            assert second.port == first.port
            wait_until_committed(fresh_topics, "restart", [Topic.ACTIONS], worker=worker, log=log)
        result = spur(env, "billing", "--month", "2026-11", "--format", "json")
        assert result.returncode == 0, result.stderr
        assert billed_by_cli(result.stdout) == expected_billing(actions)
        assert stored_rows_and_ids(env) == [{"rows": len(actions), "ids": len(actions)}]
    finally:
        store.stop()
    records = [r.strip() for r in re.split(r"\n(?=\[\d{4}-|\d{4}-\d\d-\d\d )", log.read_text())]
    failed = [r for r in records if "store call failed" in r]
    assert len(failed) >= 2, records[-20:]  # the worker really retried
    with_traceback = [r for r in records if "Traceback" in r]
    # A traceback only with the first attempt of a streak of retries; one line each after it.
    assert all("(attempt 1," in r for r in with_traceback), with_traceback
    assert all(r.count("\n") == 0 for r in failed if "(attempt 1," not in r), failed
