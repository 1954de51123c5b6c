"""`spur produce` output: a non-UTF-8 line is named as such, no stray blank line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spur.client.kafka import KafkaTarget
from spur.processes import free_port
from tests.integration.helpers import spur, spur_env
from tests.schemas.test_validate import GOOD

pytestmark = pytest.mark.integration


def test_a_line_that_is_not_utf8_is_reported_as_such(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'\xff\xfe{"a": 1}\n')
    result = spur(spur_env(fresh_topics, tmp_path, store_url), "produce", str(events))
    assert result.returncode == 2, result.stderr
    assert f"{events}:2: not_json: not UTF-8" in result.stderr
    assert "malformed" not in result.stderr
    # Written to pipes: no progress bar, so no stray blank line on either stream.
    assert result.stderr.splitlines() == [line for line in result.stderr.splitlines() if line]
    assert result.stderr.startswith(f"{events}:2:")
    assert result.stdout == "published 1, rejected 1 lines\n"


def test_an_unreachable_broker_is_one_error_line(tmp_path: Path, store_url: str) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(json.dumps(GOOD).encode() + b"\n")
    nobody = f"127.0.0.1:{free_port()}"
    result = spur(spur_env(nobody, tmp_path, store_url), "produce", str(events))
    assert result.returncode == 1, result.stderr
    assert f"Error: Kafka at {nobody} is unreachable" in result.stderr
    assert "Hint: start one with `spur dev up`" in result.stderr
    for noise in ("Traceback", "Unclosed"):
        assert noise not in result.stderr, result.stderr
