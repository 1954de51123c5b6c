"""10,000 malformed events through the real pipeline: all dead-lettered, nothing else hurt."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from tests.fuzz_corpus import malformed_corpus
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import billed_by_cli, latest_windows, publish_all
from tests.oracle import expected_billing, expected_windows
from tests.topic_contents import count_by_reason, read_dead_letters

pytestmark = pytest.mark.integration


def test_a_fuzzed_corpus_is_all_dead_lettered_and_the_valid_events_are_exact(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    actions = simulate_actions(WorkloadShape(customers=20, sessions_per_customer=40, seed=21))
    corpus = malformed_corpus(actions, 10_000)
    messages = [(str(a.customer_id).encode(), encode(a)) for a in actions]
    rng = random.Random(5)
    for raw, _reason in corpus:  # malformed events scattered among the valid ones
        messages.insert(rng.randint(0, len(messages)), (str(rng.randint(1, 20)).encode(), raw))
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="fuzz")
    log = tmp_path / "worker.log"

    with running_worker(env, log) as worker:
        asyncio.run(publish_all(fresh_topics, messages))
        wait_until_committed(fresh_topics, "fuzz", [Topic.ACTIONS], worker=worker, log=log)
        assert worker.poll() is None  # never crashed

    expected = Counter(reason for _raw, reason in corpus)
    assert len(corpus) == 10_000
    assert len(expected) >= 8  # the corpus covers most reason codes
    assert count_by_reason(asyncio.run(read_dead_letters(fresh_topics))) == expected
    assert latest_windows(fresh_topics) == expected_windows(actions)
    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert billed_by_cli(result.stdout) == expected_billing(actions)
    stored = spur(env, "deadletters", "--format", "json")
    assert f'"total": {len(corpus)}' in stored.stdout
