"""`spur produce`: valid lines published, each bad line reported, exit code 2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from spur.client.kafka import KafkaTarget
from spur_schemas.topics import Topic
from tests.integration.helpers import spur, spur_env
from tests.schemas.test_validate import GOOD
from tests.topic_contents import read_topic

pytestmark = pytest.mark.integration


def test_produce_reports_bad_lines_and_publishes_the_rest(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    lines = [
        json.dumps(GOOD),
        json.dumps({**GOOD, "action_id": "7f1b1b9e-2c7e-4a53-9a5e-2b8c1c1f0e11"}),
        "",
        json.dumps({**GOOD, "document_title": "Q3 salaries"}),
        "{broken",
        json.dumps({**GOOD, "bytes_in": -1}),
        json.dumps(
            {**GOOD, "started_at": "9999-12-31T00:00:00Z", "ended_at": "9999-12-31T00:00:00Z"}
        ),
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    result = spur(spur_env(fresh_topics, tmp_path, store_url), "produce", str(events))
    assert result.returncode == 2
    assert f"{events}:4: unknown_field" in result.stderr
    assert f"{events}:5: not_json" in result.stderr
    assert f"{events}:6: out_of_range" in result.stderr
    assert f"{events}:7: future_timestamp: started_at 9999-12-31" in result.stderr
    assert "published 2, rejected 4 lines" in result.stdout
    published = asyncio.run(read_topic(fresh_topics, Topic.ACTIONS))
    assert sorted(published) == sorted(line.encode() for line in lines[:2])
    assert all(b"Q3 salaries" not in value for value in published)


def test_produce_refuses_a_topic_that_is_not_an_input(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(GOOD) + "\n")
    result = spur(
        spur_env(fresh_topics, tmp_path, store_url),
        "produce",
        str(events),
        "--topic",
        "spur.usage.v1",
    )
    assert result.returncode == 2
    assert "not an input topic" in result.stderr
