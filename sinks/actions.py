"""Raw ``actions`` rows from validated events: a pure column builder.

Each row carries its Kafka partition and offset, so any stored action can be
traced back to the message it came from. The columns hold the events' own
values (times, ids, the profile struct, ``None`` for absent fields): the
insert encodes them in C and the server converts them
(spur_sinks.store.json_columns), so building a column is one C-speed pass.
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
# column), the table computes it back.
_ACTION_FIELDS = (
    "action_id", "action", "customer_id", "login", "session_id", "started_at", "bytes_in",
    "bytes_out", "client_ip", "parent_action_id", "data_kind", "data_count", "status",
    "error_code", "server", "profile",
)  # fmt: skip
_MILLISECOND = dt.timedelta(milliseconds=1)


def copied(events: Sequence[Any], names: tuple[str, ...]) -> dict[str, list[Any]]:
    """Columns whose values are the events' fields as they are (C-speed ``attrgetter``)."""
    return {name: list(map(attrgetter(name), events)) for name in names}


def action_columns(batch: Sequence[Located[Action]]) -> dict[str, list[Any]]:
    """Column lists for one insert into ``actions`` (names as in the DDL)."""
    events = list(map(attrgetter("event"), batch))
    return {
        **copied(events, _ACTION_FIELDS),
        "duration_ms": [duration_ms(e.started_at, e.ended_at) for e in events],
        "kafka_partition": list(map(attrgetter("partition"), batch)),
        "kafka_offset": list(map(attrgetter("offset"), batch)),
    }


def duration_ms(started_at: dt.datetime, ended_at: dt.datetime) -> int:
    """The milliseconds between the two times as DateTime64(3) keeps them (each truncated)."""
    return _truncated_ms(ended_at) - _truncated_ms(started_at)


def _truncated_ms(instant: dt.datetime) -> int:
    # Whole milliseconds since the epoch, truncated like the store truncates a
    # time (towards the past): the same for any offset the time was given in.
    return (instant - _EPOCH) // _MILLISECOND


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
