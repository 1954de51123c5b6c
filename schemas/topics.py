"""spur's topic names (DESIGN §3): the inputs app servers write, the outputs the worker writes."""

from __future__ import annotations

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
