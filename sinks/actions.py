"""Raw ``actions`` rows from validated events: a pure column builder.

Each row carries its Kafka partition and offset, so any stored action can be
traced back to the message it came from.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import msgspec

from schemas.events import Action
from schemas.located import Located

NIL_UUID = str(uuid.UUID(int=0))


def utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


def ipv6(address: str) -> str:
    """An address for an ``IPv6`` column: the native protocol takes IPv4 only mapped."""
    return address if ":" in address else "::ffff:" + address


def copied(events: Sequence[Any], names: tuple[str, ...]) -> dict[str, list[Any]]:
    """Columns whose values are the events' fields as they are (C-speed ``attrgetter``)."""
    return {name: list(map(attrgetter(name), events)) for name in names}


_ACTION_FIELDS = ("customer_id", "action", "login", "session_id", "bytes_in", "bytes_out", "status")


def action_columns(batch: Sequence[Located[Action]]) -> dict[str, list[Any]]:
    """Column lists for one insert into ``actions`` (names as in the DDL)."""
    events = [item.event for item in batch]
    return {
        **copied(events, _ACTION_FIELDS),
        "started_at": [utc(e.started_at) for e in events],
        "action_id": [str(e.action_id) for e in events],
        "ended_at": [utc(e.ended_at) for e in events],
        "parent_action_id": [
            str(e.parent_action_id) if e.parent_action_id else NIL_UUID for e in events
        ],
        "client_ip": [ipv6(e.client_ip) for e in events],
        "data_kind": [e.data_kind or "" for e in events],
        "data_count": [e.data_count or 0 for e in events],
        "error_code": [e.error_code or "" for e in events],
        "server": [e.server or "" for e in events],
        "profile": [_profile(e) for e in events],
        "kafka_partition": [item.partition for item in batch],
        "kafka_offset": [item.offset for item in batch],
    }


def _profile(event: Action) -> dict[str, str]:
    if event.profile is None:
        return {}
    return {k: v for k, v in msgspec.structs.asdict(event.profile).items() if v is not None}


class _LastColumns:
    """:func:`action_columns` of the batch asked for last, built once.

    A batch's raw insert (sinks.raw_events) and its fold (sinks.windows) read
    the same column lists of the same new actions: the hot path builds them
    once. Recognised by identity (a strong reference is held), never by value.
    """

    def __init__(self) -> None:
        self._last: tuple[Sequence[Located[Action]], dict[str, list[Any]]] | None = None

    def __call__(self, batch: Sequence[Located[Action]]) -> dict[str, list[Any]]:
        last = self._last
        if last is not None and last[0] is batch:
            return last[1]
        columns = action_columns(batch)
        self._last = (batch, columns)
        return columns


batch_columns = _LastColumns()
