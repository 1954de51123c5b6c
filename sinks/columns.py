"""Column lists for every table but ``actions`` (pure; names as in the DDL).

Values as the events hold them; the insert encodes and the server converts
them (spur_sinks.json_columns.json_columns).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from spur_schemas.events import Consent, FormSubmission, WebRequest
from spur_schemas.messages import DeadLetter
from spur_sinks.actions import copied


def web_columns(events: Sequence[WebRequest]) -> dict[str, list[Any]]:
    names = ("request_id", "ts", "path", "bytes_sent", "user_agent", "client_ip", "host", "status")
    return copied(events, names)


def form_columns(events: Sequence[FormSubmission]) -> dict[str, list[Any]]:
    names = ("submission_id", "ts", "form", "user_agent", "screen_resolution", "client_ip", "isp")
    return copied(events, names)


def consent_columns(events: Sequence[Consent]) -> dict[str, list[Any]]:
    names = ("consent_id", "ts", "login", "customer_id", "purpose", "granted", "source")
    return copied(events, names)


def dead_letter_columns(letters: Sequence[DeadLetter]) -> dict[str, list[Any]]:
    return {
        "at": [d.at for d in letters],
        "topic": [d.topic for d in letters],
        "partition": [d.partition for d in letters],
        "offset": [d.offset for d in letters],
        "reason": [d.reason for d in letters],
        "detail": [d.detail for d in letters],
        "field": [d.field for d in letters],
        "original": [base64.b64decode(d.original_b64).decode(errors="replace") for d in letters],
        "original_truncated": [d.original_truncated for d in letters],
    }
