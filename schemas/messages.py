"""The worker's output messages: window states and dead letters (docs/events.md).

``UsageMessage`` goes to ``spur.usage.v1`` (key ``customer_id:hour``),
``CapacityMessage`` to ``spur.capacity.v1`` (key ``action:minute``),
``DeadLetter`` to ``spur.deadletter.v1`` (key: the reason). Their JSON Schemas
are generated with the events' (``python -m spur_schemas.jsonschema``, in
``schemas/json/messages/``). Pure data, no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

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

    @staticmethod
    def keys(messages: Sequence[UsageMessage]) -> list[bytes]:
        """Each message's :attr:`key`, each hour's text made once (customers share hours)."""
        text = _IsoTimes().of
        return [f"{m.customer_id}:{text(m.hour)}".encode() for m in messages]


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

    @staticmethod
    def keys(messages: Sequence[CapacityMessage]) -> list[bytes]:
        """Each message's :attr:`key`, each minute's text made once (action types share them)."""
        text = _IsoTimes().of
        return [f"{m.action}:{text(m.minute)}".encode() for m in messages]


class _IsoTimes(dict[dt.datetime, str]):
    """UTC times -> their ISO 8601 text, each made once (a fraction of ``isoformat``'s cost)."""

    def of(self, time: dt.datetime) -> str:
        # Only UTC times are remembered: equal instants in other zones are equal
        # keys of a dict, but their text differs (the worker's windows are UTC).
        if time.tzinfo is not dt.UTC:
            return time.isoformat()
        text = self.get(time)
        if text is None:
            text = self[time] = time.isoformat()
        return text


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
