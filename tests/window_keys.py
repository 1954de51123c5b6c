"""One action's usage hour and capacity minute, as the tests' oracle and fakes compute them.

The pipeline computes a whole batch's at once (spur_streams.usage.touched);
these say the same for one instant, written the plain way.
"""

from __future__ import annotations

import datetime as dt

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_streams.usage import WindowKey


def _truncated(instant: dt.datetime, unit_seconds: int) -> dt.datetime:
    whole = int(instant.timestamp()) // unit_seconds * unit_seconds
    return dt.datetime.fromtimestamp(whole, dt.UTC)


def hour_of(instant: dt.datetime) -> dt.datetime:
    return _truncated(instant, 3600)


def minute_of(instant: dt.datetime) -> dt.datetime:
    return _truncated(instant, 60)


def window_of(item: Located[Action]) -> WindowKey:
    return WindowKey(item.event.customer_id, hour_of(item.event.started_at))
