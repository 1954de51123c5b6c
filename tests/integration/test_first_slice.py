"""The first vertical slice, all real: client -> Kafka -> Faust -> chdb -> billing."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from schemas.events import Action
from spur.client import Publisher
from spur.deadletters import count_by_reason, read_dead_letters
from spur.simulate import WorkloadShape, simulate_actions
from spur.topics import Topic
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.oracle import expected_billing

pytestmark = pytest.mark.integration

BAD = {
    b"{oops": "not_json",
    b'"a string"': "not_object",
    b'{"action_id": "6f1b1b9e-2c7e-4a53-9a5e-2b8c1c1f0e11", "note": "content!"}': "unknown_field",
}


async def publish(bootstrap: str, actions: list[Action], bad: list[bytes]) -> None:
    async with Publisher(bootstrap) as publisher:
        for action in actions:
            await publisher.publish(action)
        for raw in bad:
            await publisher.publish_raw(Topic.ACTIONS.value, raw, key=b"1")


def test_published_actions_are_billed_exactly(fresh_topics: str, tmp_path: Path) -> None:
    shape = WorkloadShape(customers=10, sessions_per_customer=12, seed=11)
    actions = list(simulate_actions(shape))
    redelivered = actions[::9]  # an app server re-sending some actions: same ids
    assert len(actions) >= 300
    env = spur_env(fresh_topics, tmp_path, SPUR_CONSUMER_GROUP="slice")
    log = tmp_path / "worker.log"

    with running_worker(env, log) as worker:
        asyncio.run(publish(fresh_topics, actions + redelivered, list(BAD)))
        wait_until_committed(fresh_topics, "slice", [Topic.ACTIONS.value], worker=worker, log=log)

    result = spur(env, "billing", "--month", "2026-11", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    got = {
        row["customer_id"]: (row["bytes_in"], row["bytes_out"], row["actions"])
        for row in document["customers"]
    }
    assert got == expected_billing(actions)
    assert len(got) == 10
    for row in document["customers"]:
        assert row["bytes_total"] == row["bytes_in"] + row["bytes_out"]

    letters = asyncio.run(read_dead_letters(fresh_topics))
    assert count_by_reason(letters) == {reason: 1 for reason in BAD.values()}
    originals = [base64.b64decode(letter.original_b64) for letter in letters]
    assert any(b"[redacted]" in original for original in originals)
    assert all(b"content!" not in original for original in originals)
