"""spur's topic names (docs/topics.md): what app servers write, and what the worker writes."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal, NamedTuple


class Topic(StrEnum):
    ACTIONS = "spur.actions.v1"
    WEB = "spur.web.v1"
    FORMS = "spur.forms.v1"
    CONSENT = "spur.consent.v1"
    USAGE = "spur.usage.v1"
    CAPACITY = "spur.capacity.v1"
    DEADLETTER = "spur.deadletter.v1"


class Consumption(NamedTuple):
    """How the worker reads one input topic: the one place that says it."""

    # "batch": spur.worker.consume's batch consumer (aiokafka getmany, no Faust);
    # "agent": a Faust agent (spur.worker.app.register_agents).
    style: Literal["batch", "agent"]
    # Appended to the SPUR_CONSUMER_GROUP setting: Faust's members and a plain
    # consumer's use different assignment protocols and cannot share a group.
    group_suffix: str
    # When a message's offset is committed: never before what it caused is
    # stored and published, so a crash replays it (docs/guarantees.md).
    commits: str


_AGENT_COMMIT = (
    "by Faust, once it and every message before it on its partition were "
    "acknowledged: after its batch's rows were stored and its dead letters "
    "published (spur.worker.app.acknowledged_only_if_done)"
)

CONSUMPTION: dict[Topic, Consumption] = {
    Topic.ACTIONS: Consumption(
        "batch", "",
        "with its batch, after the batch's raw rows, folds, windows, dead letters "
        "and published outputs (spur.worker.consume.consume_actions)",
    ),
    Topic.WEB: Consumption("agent", ".agents", _AGENT_COMMIT),
    Topic.FORMS: Consumption("agent", ".agents", _AGENT_COMMIT),
    Topic.CONSENT: Consumption(
        "agent", ".agents",
        _AGENT_COMMIT + "; decisions under another key are re-published first",
    ),
}  # fmt: skip

INPUT_TOPICS = tuple(CONSUMPTION)


def consumer_group_of(topic: str, consumer_group: str) -> str:
    """The consumer group that reads input ``topic`` under spur's ``consumer_group`` setting."""
    return consumer_group + CONSUMPTION[Topic(topic)].group_suffix


def action_key(action_id: uuid.UUID) -> bytes:
    """The Kafka key of an action: its id as canonical UUID text (36 ASCII bytes, lowercase).

    Every copy of one action id then lands on one partition, and so with one
    worker, whatever its customer (docs/topics.md, "Keys").
    """
    return str(action_id).encode()


def consent_key(login: str) -> bytes:
    """The Kafka key of a consent decision: the login's UTF-8 bytes (the compacted ledger's key)."""
    return login.encode()
