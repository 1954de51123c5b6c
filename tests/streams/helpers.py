"""Messages for the step tests: valid events by default, any field changed."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec

from spur_schemas.topics import Topic
from spur_streams.batch import Message

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def at(hours_ago: float, minutes: float = 0) -> str:
    return (NOW - dt.timedelta(hours=hours_ago, minutes=minutes)).isoformat()


def action(**changes: Any) -> dict[str, Any]:
    started = changes.pop("hours_ago", 1.0)
    document = {
        "action_id": str(uuid.uuid4()),
        "action": "document.export",
        "customer_id": 42,
        "login": "ann@example.com",
        "session_id": "s-1",
        "started_at": at(started),
        "ended_at": at(started, minutes=-0.5),
        "bytes_in": 100,
        "bytes_out": 2000,
        "client_ip": "192.0.2.77",
    }
    return {k: v for k, v in {**document, **changes}.items() if v is not None}


def web(**changes: Any) -> dict[str, Any]:
    document = {
        "request_id": str(uuid.uuid4()),
        "ts": at(1),
        "path": "/docs/a?token=secret#top",
        "bytes_sent": 512,
        "user_agent": "curl/8",
        "client_ip": "192.0.2.77",
    }
    return {**document, **changes}


def form(**changes: Any) -> dict[str, Any]:
    document = {
        "submission_id": str(uuid.uuid4()),
        "ts": at(1),
        "form": "signup",
        "client_ip": "2001:db8:1:2:3::9",
        "user_agent": "curl/8",
        "screen_resolution": "1920x1080",
    }
    return {**document, **changes}


def consent(
    login: str = "ann@example.com", *, granted: bool = True, hours_ago: float = 10
) -> dict[str, Any]:
    return {
        "consent_id": str(uuid.uuid4()),
        "ts": at(hours_ago),
        "customer_id": 42,
        "login": login,
        "purpose": "extended_processing",
        "granted": granted,
        "source": "checkbox:signup",
    }


def messages(
    topic: Topic,
    documents: Sequence[dict[str, Any] | bytes],
    *,
    partition: int = 0,
    first: int = 0,
) -> list[Message]:
    return [
        Message(
            topic.value,
            partition,
            first + n,
            d if isinstance(d, bytes) else msgspec.json.encode(d),
        )
        for n, d in enumerate(documents)
    ]
