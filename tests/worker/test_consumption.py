"""Which path reads each input topic, under which group: declared once
(spur_schemas.topics.CONSUMPTION), and the worker follows the declaration."""

from __future__ import annotations

from pathlib import Path

import pytest

from spur.client.kafka import as_target
from spur.settings import Settings, parse_store_url
from spur.worker.app import create_app
from spur_schemas.topics import CONSUMPTION, INPUT_TOPICS, Topic, consumer_group_of
from spur_sinks.store import open_store


def test_every_input_topic_is_declared_once_with_its_group_and_commit_rule() -> None:
    assert set(INPUT_TOPICS) == set(CONSUMPTION)
    assert all(how.commits for how in CONSUMPTION.values())
    assert consumer_group_of(Topic.ACTIONS, "spur") == "spur"
    # Faust's members cannot share a group with the plain batch consumer.
    assert {consumer_group_of(t, "spur") for t in (Topic.WEB, Topic.FORMS, Topic.CONSENT)} == {
        "spur.agents"
    }


def test_the_worker_runs_an_agent_for_each_topic_declared_agent(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9")
    # Nothing connects before the app starts: the store URL is never dialled.
    store = open_store(parse_store_url("clickhouse://127.0.0.1:9/spur"))
    app = create_app(settings, as_target("127.0.0.1:9"), store)
    declared = {f"spur.{t.name.lower()}" for t, how in CONSUMPTION.items() if how.style == "agent"}
    assert set(app.agents) == declared
    assert app.conf.id == consumer_group_of(Topic.WEB, settings.broker.consumer_group)


def test_the_worker_refuses_a_declaration_it_does_not_follow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9")
    store = open_store(parse_store_url("clickhouse://127.0.0.1:9/spur"))
    # Agents in two groups cannot share the one Faust app.
    forms = CONSUMPTION[Topic.FORMS]._replace(group_suffix=".x")
    monkeypatch.setitem(CONSUMPTION, Topic.FORMS, forms)
    with pytest.raises(RuntimeError, match="one group"):
        create_app(settings, as_target("127.0.0.1:9"), store)
    monkeypatch.undo()
    # Web declared as read in batches: the worker has no batch consumer for it.
    monkeypatch.setitem(CONSUMPTION, Topic.WEB, CONSUMPTION[Topic.WEB]._replace(style="batch"))
    with pytest.raises(RuntimeError, match="batch consumer"):
        create_app(settings, as_target("127.0.0.1:9"), store)
