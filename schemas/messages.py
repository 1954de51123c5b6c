"""The worker's output messages: window states and dead letters (docs/events.md).

``UsageMessage`` goes to ``spur.usage.v1`` (key ``customer_id:hour``),
``CapacityMessage`` to ``spur.capacity.v1`` (key ``action:minute``),
``DeadLetter`` to ``spur.deadletter.v1`` (key: the reason). Their JSON Schemas
are generated with the events' (``python -m spur_schemas.jsonschema``, in
``schemas/json/messages/``). Pure data, no I/O.
"""

from __future__ import annotations

import datetime as dt

import msgspec


class UsageMessage(msgspec.Struct, frozen=True):
    """A window state on ``spur.usage.v1`` (key ``customer_id:hour``)."""

    customer_id: int
    hour: dt.datetime
    bytes_in: int
    bytes_out: int
    actions: int
    error_actions: int
    duration_ms: int
    version: int

    @property
    def key(self) -> bytes:
        return f"{self.customer_id}:{self.hour.isoformat()}".encode()


class CapacityMessage(msgspec.Struct, frozen=True):
    """A window state on ``spur.capacity.v1`` (key ``action:minute``)."""

    action: str
    minute: dt.datetime
    actions: int
    error_actions: int
    bytes_in: int
    bytes_out: int
    duration_p50_ms: float
    duration_p95_ms: float
    duration_p99_ms: float
    version: int

    @property
    def key(self) -> bytes:
        return f"{self.action}:{self.minute.isoformat()}".encode()


class DeadLetter(msgspec.Struct, frozen=True):
    """A rejected message on ``spur.deadletter.v1``: why, where from, its redacted original."""

    topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    field: str | None
    at: dt.datetime
    original_b64: str
    original_truncated: bool
