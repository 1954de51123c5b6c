"""Column lists for every table but ``actions`` (pure; names as in the DDL)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from schemas.events import Consent, FormSubmission, WebRequest
from schemas.messages import DeadLetter
from sinks.actions import copied, ipv6, utc


def _timed(
    events: Sequence[WebRequest | FormSubmission | Consent], id_name: str, names: tuple[str, ...]
) -> dict[str, list[Any]]:
    """The columns every event table has (time, id as text), and ``names`` as they are."""
    return {
        **copied(events, names),
        "ts": [utc(e.ts) for e in events],
        id_name: list(map(str, map(attrgetter(id_name), events))),
    }


def web_columns(events: Sequence[WebRequest]) -> dict[str, list[Any]]:
    return {
        **_timed(events, "request_id", ("path", "bytes_sent", "user_agent")),
        "client_ip": [ipv6(e.client_ip) for e in events],
        "host": [e.host or "" for e in events],
        "status": [e.status or 0 for e in events],
    }


def form_columns(events: Sequence[FormSubmission]) -> dict[str, list[Any]]:
    return {
        **_timed(events, "submission_id", ("form", "user_agent", "screen_resolution")),
        "client_ip": [ipv6(e.client_ip) for e in events],
        "isp": [e.isp or "" for e in events],
    }


def consent_columns(events: Sequence[Consent]) -> dict[str, list[Any]]:
    return _timed(events, "consent_id", ("login", "customer_id", "purpose", "granted", "source"))


def dead_letter_columns(letters: Sequence[DeadLetter]) -> dict[str, list[Any]]:
    return {
        "at": [utc(d.at) for d in letters],
        "topic": [d.topic for d in letters],
        "partition": [d.partition for d in letters],
        "offset": [d.offset for d in letters],
        "reason": [d.reason for d in letters],
        "detail": [d.detail for d in letters],
        "field": [d.field or "" for d in letters],
        "original": [base64.b64decode(d.original_b64).decode(errors="replace") for d in letters],
        "original_truncated": [d.original_truncated for d in letters],
    }
