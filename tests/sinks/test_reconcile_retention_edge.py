"""Reconcile at the retention's edge: what a TTL may be deleting is left out.

A usage hour is deleted once the hour is ``actions`` days old, its raw rows
when each row is (up to an hour later), capacity minutes after ``capacity``
days, and TTL merges run when they can: at the edge one table may have lost
rows another still holds, which is the retention working, not a lost fold.
The store's own TTLs need a real day to pass, so these tests delete what a
TTL merge would and read the month at a ``now`` a day after the actions.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.operations.capacity_differences import reconcile_capacity
from spur.operations.compared_span import TTL_MARGIN, compared_span, span_now
from spur.operations.reconcile import reconcile
from spur.operations.repair import repair
from spur_sinks.migrate import apply_migrations
from spur_sinks.retention import kept_days
from spur_sinks.store import Store
from spur_sinks.tables import Retention
from tests.sinks.test_store_contract import NOW, messages, pipeline, process

# A store whose actions, ids and usage are kept a day, capacity two: its raw
# actions bound capacity's comparison to a day too.
A_DAY = {"usage_days": 1, "capacity_days": 1}
MONTH = "2026-11"
HOUR = dt.timedelta(hours=1)


def _hours_stored(store: Store, table: str, column: str = "hour") -> set[dt.datetime]:
    rows = store.query(
        f"SELECT DISTINCT toUnixTimestamp(toStartOfHour({column})) AS h "
        f"FROM {store.database}.{table}"
    )
    return {dt.datetime.fromtimestamp(int(r["h"]), dt.UTC) for r in rows}


def _delete(store: Store, table: str, condition: str) -> None:
    store.execute(
        f"DELETE FROM {store.database}.{table} WHERE {condition} "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )


def _at(instant: dt.datetime) -> str:
    return f"toDateTime({int(instant.timestamp())}, 'UTC')"


def _ingest_a_day(store: Store) -> list[dt.datetime]:
    """Actions of the month's last day, folded; their hours, oldest first."""
    shape = WorkloadShape(
        customers=3, sessions_per_customer=6, month_start=NOW - dt.timedelta(days=1), days=1
    )
    actions = [a for a in simulate_actions(shape) if a.started_at < NOW]
    process(pipeline(store), store, messages(actions))
    return sorted({a.started_at.replace(minute=0, second=0, microsecond=0) for a in actions})


def test_an_hour_the_ttl_took_from_usage_first_is_left_out(store: Store) -> None:
    hours = _ingest_a_day(store)
    edge = hours[0]
    # A day after the edge hour began, and half an hour: its usage is past
    # its TTL (hour + 1 day), some of its raw rows are not yet.
    now = edge + dt.timedelta(days=1, minutes=30)
    for table in ("usage_hourly", "usage_sums", "usage_quarters"):
        _delete(store, table, f"hour < {_at(edge + HOUR)}" if table != "usage_quarters"
                else f"quarter < {_at(edge + HOUR)}")  # fmt: skip
    assert edge in _hours_stored(store, "actions", "started_at")  # the raw rows stay

    whole = span_now(store, MONTH)  # the month as if nothing expired
    assert reconcile_capacity(store, whole) == []
    missing = reconcile(store, whole)
    assert missing
    assert all(d.raw[2] > d.aggregated[2] for d in missing)

    span = compared_span(MONTH, "UTC", now, **A_DAY)
    assert span.clipped
    assert span.usage[0] == edge + HOUR
    assert reconcile(store, span) == []
    assert repair(store, span) == 0
    assert edge not in _hours_stored(store, "usage_sums")  # nothing written for it


def test_capacity_minutes_past_the_actions_retention_are_left_out(store: Store) -> None:
    hours = _ingest_a_day(store)
    # Capacity is kept longer (2 days) than raw actions (1): at this now, the
    # raw rows of the first hours are gone, their capacity minutes stay.
    now = hours[0] + dt.timedelta(days=1, hours=3)
    gone = now + TTL_MARGIN - dt.timedelta(days=1)
    for table in ("actions", "action_ids"):
        _delete(store, table, f"started_at < toDateTime64({int(gone.timestamp())}, 3, 'UTC')")

    assert reconcile_capacity(store, span_now(store, MONTH)) != []  # as if nothing expired
    span = compared_span(MONTH, "UTC", now, **A_DAY)
    assert span.capacity[0] > gone
    assert reconcile_capacity(store, span) == []
    assert repair(store, span) == 0


def test_a_month_past_retention_compares_nothing() -> None:
    span = compared_span(MONTH, "UTC", NOW + dt.timedelta(days=400), 365, 365)
    assert span.clipped
    assert span.usage[0] == span.usage[1]
    assert span.capacity[0] == span.capacity[1]


def test_a_month_within_retention_is_compared_whole() -> None:
    span = compared_span(MONTH, "Asia/Kathmandu", NOW + dt.timedelta(days=7), 365, 365)
    assert not span.clipped
    assert span.usage == (
        dt.datetime(2026, 10, 31, 18, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, 19, tzinfo=dt.UTC)
    )  # fmt: skip


@given(
    now=st.datetimes(
        min_value=dt.datetime(2026, 11, 1),
        max_value=dt.datetime(2028, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    actions=st.integers(1, 400),
    capacity=st.integers(1, 800),
)
def test_the_span_is_every_hour_and_minute_no_ttl_reaches(
    now: dt.datetime, actions: int, capacity: int
) -> None:
    span = compared_span(MONTH, "UTC", now, actions, min(actions, capacity))
    horizon = now + TTL_MARGIN

    def kept(instant: dt.datetime, days: int) -> bool:  # as the TTLs' expressions
        return instant + dt.timedelta(days=days) > horizon

    start, end = span.usage
    if start < end:  # the first hour compared is kept, the one before it is not
        assert kept(start, actions)
        assert start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC) or not kept(start - HOUR, actions)
    else:
        assert not kept(end - HOUR, actions)
    days = min(actions, capacity)
    start, end = span.capacity
    minute = dt.timedelta(minutes=1)
    if start < end:
        assert kept(start, days)
        assert start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC) or not kept(start - minute, days)
    else:
        assert not kept(end - minute, days)


def test_the_span_is_cut_by_the_ttls_the_store_has(store: Store) -> None:
    # Compiled in at the first migration: a day for actions, two for capacity.
    apply_migrations(store, Retention(actions=1, capacity=2))
    assert kept_days(store) == (1, 1)  # capacity's raw actions go after a day
    store.execute(f"ALTER TABLE {store.database}.actions REMOVE TTL")
    store.execute(f"ALTER TABLE {store.database}.action_ids REMOVE TTL")
    assert kept_days(store) == (1, 2)


def test_tables_without_a_ttl_cut_nothing() -> None:
    span = compared_span(MONTH, "UTC", NOW + dt.timedelta(days=4000), None, None)
    assert not span.clipped
    assert not span.empty
