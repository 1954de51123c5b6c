"""The worker's consumer-lag gauge is current: each scrape of /metrics shows
the lag `spur status` reports at that moment, not one up to
observe_interval_seconds (30 s) old. A real broker and a real worker whose
store is down (tests/faults/faulty_worker.py), so that nothing is committed
and the lag is exactly what was published."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from pathlib import Path

import pytest

from spur.broker import consumer_lag
from spur.client.kafka import KafkaTarget
from spur.client.publisher import Publisher
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.worker.launch import worker_env
from spur_schemas.topics import INPUT_TOPICS, Topic
from spur_schemas.validate import encode
from tests.faults.faulty_worker import start_faulty_worker

pytestmark = pytest.mark.integration
GROUP = "lag-gauge"


def scraped_lag(endpoint: str) -> dict[str, float]:
    page = urllib.request.urlopen(endpoint, timeout=15).read().decode()
    return {
        topic: float(value)
        for topic, value in re.findall(
            r'^spur_consumer_lag_messages\{topic="([^"]+)"\} (\S+)$', page, re.MULTILINE
        )
    }


async def publish(bootstrap: KafkaTarget, count: int, seed: int) -> None:
    actions = simulate_actions(WorkloadShape(customers=3, sessions_per_customer=2, seed=seed))
    async with Publisher(bootstrap) as publisher:
        for action in actions[:count]:
            await publisher.publish_raw(Topic.ACTIONS, encode(action), key=b"1")


def status_lag(bootstrap: KafkaTarget) -> dict[str, int]:
    """What `spur status` reports (the same measurement)."""
    return asyncio.run(consumer_lag(bootstrap, GROUP, list(INPUT_TOPICS)))


def test_each_scrape_shows_the_lag_of_that_moment(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    fault = tmp_path / "store-down"
    env = worker_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP=GROUP)
    log = tmp_path / "worker.log"
    state = tmp_path / "state" / "worker.json"
    worker = start_faulty_worker(env, log, fault, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not state.exists():
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        fault.touch()  # from now on nothing is stored, so nothing is committed
        endpoint = json.loads(state.read_text())["metrics"]
        started = time.monotonic()
        for seed, count in ((1, 7), (2, 5)):
            asyncio.run(publish(fresh_topics, count, seed))
            time.sleep(1.1)  # past the reuse of the last measurement (1 s)
            scraped = scraped_lag(endpoint)
            assert scraped, f"no lag gauge on the scrape:\n{log.read_text()[-2000:]}"
            assert scraped == {t: float(n) for t, n in status_lag(fresh_topics).items()}
        assert scraped[Topic.ACTIONS] == 12
        # Both seen well within the old 30 s observation interval.
        assert time.monotonic() - started < 25
        assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        worker.stop()
