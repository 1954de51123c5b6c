"""Column lists for every table but ``actions`` (pure; order matches the DDL)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from schemas.events import Consent, FormSubmission, WebRequest
from schemas.messages import DeadLetter
from sinks.actions import ipv6, utc


def web_columns(events: Sequence[WebRequest]) -> dict[str, list[Any]]:
    return {
        "ts": [utc(e.ts) for e in events],
        "request_id": [str(e.request_id) for e in events],
        "path": [e.path for e in events],
        "bytes_sent": [e.bytes_sent for e in events],
        "user_agent": [e.user_agent for e in events],
        "client_ip": [ipv6(e.client_ip) for e in events],
        "host": [e.host or "" for e in events],
        "status": [e.status or 0 for e in events],
    }


def form_columns(events: Sequence[FormSubmission]) -> dict[str, list[Any]]:
    return {
        "ts": [utc(e.ts) for e in events],
        "submission_id": [str(e.submission_id) for e in events],
        "form": [e.form for e in events],
        "client_ip": [ipv6(e.client_ip) for e in events],
        "user_agent": [e.user_agent for e in events],
        "screen_resolution": [e.screen_resolution for e in events],
        "isp": [e.isp or "" for e in events],
    }


def consent_columns(events: Sequence[Consent]) -> dict[str, list[Any]]:
    return {
        "login": [e.login for e in events],
        "ts": [utc(e.ts) for e in events],
        "consent_id": [str(e.consent_id) for e in events],
        "customer_id": [e.customer_id for e in events],
        "purpose": [e.purpose for e in events],
        "granted": [e.granted for e in events],
        "source": [e.source for e in events],
    }


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
