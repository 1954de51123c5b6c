"""spur's topic names (docs/topics.md): what app servers write, and what the worker writes."""

from __future__ import annotations

import uuid
from enum import StrEnum


class Topic(StrEnum):
    ACTIONS = "spur.actions.v1"
    WEB = "spur.web.v1"
    FORMS = "spur.forms.v1"
    CONSENT = "spur.consent.v1"
    USAGE = "spur.usage.v1"
    CAPACITY = "spur.capacity.v1"
    DEADLETTER = "spur.deadletter.v1"


INPUT_TOPICS = (Topic.ACTIONS, Topic.WEB, Topic.FORMS, Topic.CONSENT)


def consumer_group_of(topic: str, consumer_group: str) -> str:
    """The consumer group that reads ``topic`` under spur's ``consumer_group`` setting.

    Actions are read by the batch consumer (spur.worker.consume) under the
    setting itself; the other inputs by Faust agents, whose assignment
    protocol cannot share a group with a plain consumer's.
    """
    return consumer_group if topic == Topic.ACTIONS else f"{consumer_group}.agents"


def action_key(action_id: uuid.UUID) -> bytes:
    """The Kafka key of an action: its id as canonical UUID text (36 ASCII bytes, lowercase).

    Every copy of one action id then lands on one partition, and so with one
    worker, whatever its customer (docs/topics.md, "Keys").
    """
    return str(action_id).encode()


def consent_key(login: str) -> bytes:
    """The Kafka key of a consent decision: the login's UTF-8 bytes (the compacted ledger's key)."""
    return login.encode()
