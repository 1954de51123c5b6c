"""Raw ``actions`` rows from validated events: a pure column builder.

Each row carries its Kafka partition and offset, so any stored action can be
traced back to the message it came from. The columns hold the events' own
values (times, ids, the profile struct, ``None`` for absent fields): the
insert encodes them in C and the server converts them
(spur_sinks.json_columns.json_columns), so building a column is one C-speed pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from spur_schemas.events import Action
from spur_schemas.located import Located

# Every field of the event is a column of the same name (docs/events.md), but
# ended_at: stored as its distance from started_at (migration 0009: a smaller
# column), the table computes it back; and action_id, inserted as action_id_in
# and stored as two numbers (migration 0011), computed back too.
_ACTION_FIELDS = (
    "action", "customer_id", "login", "session_id", "started_at", "bytes_in",
    "bytes_out", "client_ip", "parent_action_id", "data_kind", "data_count", "status",
    "error_code", "server", "profile",
)  # fmt: skip


def copied(events: Sequence[Any], names: tuple[str, ...]) -> dict[str, list[Any]]:
    """Columns whose values are the events' fields as they are (C-speed ``attrgetter``)."""
    return {name: list(map(attrgetter(name), events)) for name in names}


def action_columns(batch: Sequence[Located[Action]]) -> dict[str, list[Any]]:
    """Column lists for one insert into ``actions`` (names as in the DDL); the batch
    step builds them a slice of its actions at a time (spur_streams.steps.decide)."""
    events = list(map(attrgetter("event"), batch))
    return {
        "action_id_in": list(map(attrgetter("action_id"), events)),
        **copied(events, _ACTION_FIELDS),
        "duration_ms": [duration_ms(e.started_at, e.ended_at) for e in events],
        "kafka_partition": list(map(attrgetter("partition"), batch)),
        "kafka_offset": list(map(attrgetter("offset"), batch)),
    }


def duration_ms(started_at: dt.datetime, ended_at: dt.datetime) -> int:
    """The milliseconds between the two times as DateTime64(3) keeps them (each truncated).

    Both truncated towards the past: end_ms - start_ms, where x_ms = (x_us - x_us % 1000) / 1000,
    is (end_us - start_us + start_us % 1000) // 1000 (end_us % 1000 < 1000 vanishes in the
    floor): one subtraction per action instead of two. ``microsecond`` is the UTC one's
    ``% 1000`` too: RFC 3339 offsets are whole minutes.
    """
    return ((ended_at - started_at) // _MICROSECOND + started_at.microsecond % 1000) // 1000


_MICROSECOND = dt.timedelta(microseconds=1)
