"""Capacity windows per (action type, minute): count, bytes, duration quantiles, errors.

A minute's window spans all customers and so all partitions, which no single
worker sees; and exact quantiles cannot be folded from partial ones. So the
windows of the minutes a batch touched are recomputed from the stored,
deduplicated raw actions, before the batch's offsets are acknowledged. A recompute
reads everything stored so far, so the latest one is the most complete:
``version`` is its wall-clock time in microseconds (ReplacingMergeTree keeps
the highest). Holds no customer data.

Blocking: one query and one insert per run.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable
from typing import Any

import msgspec

from sinks.store import Store
from sinks.writer import retrying


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


def _day_ranges(minutes: Iterable[dt.datetime]) -> list[tuple[int, int]]:
    """[start, end) epoch seconds per day that has touched minutes (keeps scans narrow)."""
    days = sorted({m.replace(hour=0, minute=0) for m in minutes})
    return [(int(d.timestamp()), int(d.timestamp()) + 86_400) for d in days]


def recompute_capacity(
    store: Store, minutes: set[dt.datetime], stop: threading.Event | None = None
) -> list[CapacityMessage]:
    """Recompute and store the windows of ``minutes``; return them for publishing."""
    if not minutes:
        return []
    wanted = ",".join(str(int(m.timestamp())) for m in sorted(minutes))
    ranges = " OR ".join(
        f"(started_at >= toDateTime64({a}, 3, 'UTC') AND started_at < toDateTime64({b}, 3, 'UTC'))"
        for a, b in _day_ranges(minutes)
    )
    rows: list[dict[str, Any]] = retrying(
        store.query,
        f"""
        SELECT action, toUnixTimestamp(toStartOfMinute(started_at)) AS minute,
               count() AS actions, countIf(status = 'error') AS error_actions,
               sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out,
               quantilesExact(0.5, 0.95, 0.99)(
                   toFloat64(dateDiff('millisecond', started_at, ended_at))) AS q
        FROM {store.database}.actions FINAL
        WHERE ({ranges}) AND toUnixTimestamp(toStartOfMinute(started_at)) IN ({wanted})
        GROUP BY action, minute
        """,
        stop=stop,
    )
    version = time.time_ns() // 1000
    windows = [
        CapacityMessage(
            action=row["action"],
            minute=dt.datetime.fromtimestamp(int(row["minute"]), dt.UTC),
            actions=int(row["actions"]),
            error_actions=int(row["error_actions"]),
            bytes_in=int(row["bytes_in"]),
            bytes_out=int(row["bytes_out"]),
            duration_p50_ms=float(row["q"][0]),
            duration_p95_ms=float(row["q"][1]),
            duration_p99_ms=float(row["q"][2]),
            version=version,
        )
        for row in rows
    ]
    if windows:
        columns = {
            name: [getattr(w, name) for w in windows] for name in CapacityMessage.__struct_fields__
        }
        retrying(store.insert, "capacity_minutely", columns, stop=stop)
    return windows
