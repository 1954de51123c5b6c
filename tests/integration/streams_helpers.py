"""Publishing a delivery and reading the pipeline's window topic back."""

from __future__ import annotations

import asyncio
import json

import msgspec

from spur.client import Publisher
from spur.client.kafka import KafkaTarget
from spur_schemas.messages import UsageMessage
from spur_schemas.topics import Topic
from tests.integration.helpers import spur
from tests.topic_contents import read_topic


async def publish_all(bootstrap: KafkaTarget, messages: list[tuple[bytes, bytes]]) -> None:
    async with Publisher(bootstrap) as publisher:
        for key, value in messages:
            await publisher.publish_raw(Topic.ACTIONS, value, key=key)


def latest_windows(bootstrap: KafkaTarget) -> dict[tuple[int, int], tuple[int, ...]]:
    """Each window's state with the highest version, as the contract defines it."""
    decoder = msgspec.json.Decoder(UsageMessage)
    latest: dict[tuple[int, int], UsageMessage] = {}
    for value in asyncio.run(read_topic(bootstrap, Topic.USAGE)):
        state = decoder.decode(value)
        key = (state.customer_id, int(state.hour.timestamp()))
        if key not in latest or state.version >= latest[key].version:
            latest[key] = state
    return {key: (s.bytes_in, s.bytes_out, s.actions, s.error_actions) for key, s in latest.items()}


def billed_by_cli(stdout: str) -> dict[int, tuple[int, int, int]]:
    return {
        row["customer_id"]: (row["bytes_in"], row["bytes_out"], row["actions"])
        for row in json.loads(stdout)["customers"]
    }


def stored_rows_and_ids(env: dict[str, str]) -> object:
    """``actions`` rows and distinct action ids, read through `spur query` as a user would."""
    stored = spur(
        env, "query", "SELECT count() AS rows, uniqExact(action_id) AS ids FROM actions",
        "--format", "json",
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    return json.loads(stored.stdout)
