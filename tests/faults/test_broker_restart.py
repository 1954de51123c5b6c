"""The broker restarts under a running worker: it reconnects, and totals stay exact."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest

from spur.dev.broker import LocalBroker
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings
from spur.topics import ensure_topics, topic_specs
from spur_schemas.topics import Topic
from tests.disorder import Disorder, deliver
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import billed_by_cli, latest_windows, publish_all
from tests.oracle import expected_billing, expected_windows

pytestmark = [pytest.mark.integration, pytest.mark.faults]
# Kubernetes' default termination grace period, after which it kills the process.
STOPPED_WITHIN_SECONDS = 30


def test_the_worker_survives_a_broker_restart(tmp_path: Path, store_url: str) -> None:
    actions = simulate_actions(WorkloadShape(customers=30, sessions_per_customer=30, days=10))
    delivery = deliver(actions, Disorder(seed=12))
    half = len(delivery.messages) // 2
    broker = LocalBroker(data_dir=tmp_path / "kafka")
    broker.start()
    try:
        asyncio.run(ensure_topics(broker.target, topic_specs(Settings())))
        env = spur_env(broker.target, tmp_path, store_url, SPUR_CONSUMER_GROUP="restart")
        log = tmp_path / "worker.log"

        def committed(worker: subprocess.Popen[bytes]) -> None:
            wait_until_committed(broker.target, "restart", [Topic.ACTIONS], worker=worker, log=log)

        with running_worker(env, log) as worker:
            asyncio.run(publish_all(broker.target, delivery.messages[:half]))
            wait_until_committed(broker.target, "restart", [Topic.ACTIONS], worker=worker, log=log)
            before = len(log.read_text().splitlines())
            broker.stop()
            time.sleep(5)  # the worker runs on without a broker
            assert worker.poll() is None, log.read_text()[-3000:]
            outage = log.read_text().splitlines()[before:]
            # It says the broker is gone, and says it once per interval rather
            # than per retry (~750 lines in these 5 s before spur.worker.repeated_logs).
            assert any("Unable connect to node" in line for line in outage), outage
            assert len(outage) < 60, "\n".join(outage[:100])
            broker.start()
            asyncio.run(publish_all(broker.target, delivery.messages[half:]))
            wait_until_committed(broker.target, "restart", [Topic.ACTIONS], worker=worker, log=log)
            windows = latest_windows(broker.target)
            result = spur(env, "billing", "--month", "2026-11", "--format", "json")
            # Asked to stop while the broker is away, it stops within an orchestrator's
            # usual grace period (it took ~63 s, the consumer thread of Faust's agents
            # waiting for the broker to leave the group: spur.worker.committed_reads).
            broker.stop()
            asked = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=STOPPED_WITHIN_SECONDS)  # raises TimeoutExpired
            assert time.monotonic() - asked < STOPPED_WITHIN_SECONDS
    finally:
        broker.stop()
    assert windows == expected_windows(actions)
    assert billed_by_cli(result.stdout) == expected_billing(actions)
