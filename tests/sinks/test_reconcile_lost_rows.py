"""Raw rows lost without an erasure are reported as lost, not as explained by erasure.

A billed action whose raw row is gone is an erasure's doing only where a
recorded erasure could have removed it (its customer's, or any login's:
a login's tombstone names no customer); otherwise the store lost it, and
``spur reconcile`` must not call that explained (exit 0).
"""

from __future__ import annotations

import datetime as dt
import uuid

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.operations.capacity_differences import reconcile_capacity
from spur.operations.reconcile import reconcile, span_now
from spur.operations.repair import repair
from spur_schemas.events import Action
from spur_sinks.erasure import record_tombstone
from spur_sinks.store import Store
from tests.sinks.test_store_contract import NOW, messages, pipeline, process


def _stored(store: Store) -> list[Action]:
    """Two customers' actions of two days, through the pipeline."""
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=4, days=2))
    process(pipeline(store), store, messages(actions))
    return actions


def test_raw_rows_lost_without_an_erasure_are_not_explained(store: Store) -> None:
    actions = _stored(store)
    lost = actions[0]
    store.execute(
        f"DELETE FROM {store.database}.actions WHERE action_id = '{lost.action_id}' "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    (difference,) = reconcile(store, span_now(store, "2026-11"))
    assert difference.customer_id == lost.customer_id
    assert (difference.lost_raw_actions, difference.erased_actions) == (1, 0)
    assert not difference.explained_by_erasure
    assert reconcile_capacity(store, span_now(store, "2026-11")) != []
    assert not any(
        d.explained_by_erasure for d in reconcile_capacity(store, span_now(store, "2026-11"))
    )
    # A repair rewrites neither: its hour nor its minute (rebuilt from the rows
    # left, the minute would match them and the loss would be hidden).
    before = reconcile_capacity(store, span_now(store, "2026-11"))
    assert repair(store, span_now(store, "2026-11")) == 0
    assert reconcile_capacity(store, span_now(store, "2026-11")) == before

    # Another customer's erasure does not reach it.
    other = next(a.customer_id for a in actions if a.customer_id != lost.customer_id)
    record_tombstone(store, "customer", str(other), uuid.uuid4(), NOW)
    (difference,) = reconcile(store, span_now(store, "2026-11"))
    assert not difference.explained_by_erasure

    # A login's erasure may have removed it: explained, as before.
    record_tombstone(store, "login", "someone@example.com", uuid.uuid4(), NOW)
    (difference,) = reconcile(store, span_now(store, "2026-11"))
    assert (difference.lost_raw_actions, difference.erased_actions) == (0, 1)
    assert difference.explained_by_erasure
    assert all(
        d.explained_by_erasure for d in reconcile_capacity(store, span_now(store, "2026-11"))
    )


def test_sums_that_lost_a_fold_are_reported_before_the_next_fold_bills_them(
    store: Store,
) -> None:
    # What billing reads (usage_hourly) is still right; the sums the next fold
    # into the hour builds on lost a row (found from outside: unnoticed until
    # that fold rewrote the hour short).
    actions = _stored(store)
    first = actions[0]
    hour = first.started_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    store.execute(
        f"DELETE FROM {store.database}.usage_sums WHERE customer_id = {first.customer_id} "
        f"AND hour = toDateTime({int(hour.timestamp())}, 'UTC') "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    (difference,) = reconcile(store, span_now(store, "2026-11"))
    assert difference.customer_id == first.customer_id
    assert difference.aggregated == difference.raw
    assert difference.summed is not None
    assert difference.summed[2] < difference.raw[2]
    assert not difference.explained_by_erasure
    assert repair(store, span_now(store, "2026-11")) == 1
    assert reconcile(store, span_now(store, "2026-11")) == []


def test_a_state_rewritten_from_its_sums_counts_as_repaired(store: Store) -> None:
    actions = _stored(store)
    first = actions[0]
    store.execute(
        f"DELETE FROM {store.database}.usage_hourly WHERE customer_id = {first.customer_id} "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    (difference,) = reconcile(store, span_now(store, "2026-11"))
    assert difference.summed == difference.raw  # the sums are right, billing's states gone
    hours = len({a.started_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
                 for a in actions if a.customer_id == first.customer_id})  # fmt: skip
    assert repair(store, span_now(store, "2026-11")) == hours  # it said 0 before
    assert reconcile(store, span_now(store, "2026-11")) == []


def test_lost_quarter_hour_sums_and_lost_index_rows_are_differences(store: Store) -> None:
    # Both found from outside: the quarters (billing off the whole hour) were
    # never compared, and a raw row whose id left the index (a re-sent copy
    # would be billed twice) matched everywhere else.
    actions = _stored(store)
    first = actions[0]
    quarter = first.started_at.astimezone(dt.UTC)
    quarter = quarter.replace(minute=quarter.minute // 15 * 15, second=0, microsecond=0)
    store.execute(
        f"DELETE FROM {store.database}.usage_quarters WHERE customer_id = {first.customer_id} "
        f"AND quarter = toDateTime({int(quarter.timestamp())}, 'UTC') "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    (difference,) = reconcile(store, span_now(store, "2026-11"))
    assert difference.aggregated == difference.raw
    assert difference.quartered is not None
    assert difference.quartered[2] < difference.raw[2]
    assert not difference.explained_by_erasure

    other = next(a for a in actions if a.customer_id != first.customer_id)
    store.execute(
        f"DELETE FROM {store.database}.action_ids WHERE action_id = '{other.action_id}' "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    found = {d.customer_id: d for d in reconcile(store, span_now(store, "2026-11"))}
    lost_index = found[other.customer_id]
    assert lost_index.aggregated == lost_index.raw
    assert lost_index.not_folded_actions == 1


def test_capacity_states_that_lost_a_fold_are_reported_and_repaired(store: Store) -> None:
    # What readers read (capacity_minutely) is still right; the states the next
    # fold into the minute adds to lost one (noted from outside: never compared).
    actions = _stored(store)
    first = actions[0]
    minute = first.started_at.astimezone(dt.UTC).replace(second=0, microsecond=0)
    store.execute(
        f"DELETE FROM {store.database}.capacity_states WHERE action = '{first.action}' "
        f"AND minute = toDateTime({int(minute.timestamp())}, 'UTC') "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    assert reconcile(store, span_now(store, "2026-11")) == []  # usage is untouched
    (difference,) = reconcile_capacity(store, span_now(store, "2026-11"))
    assert (difference.action, difference.minute) == (first.action, minute)
    assert difference.aggregated == difference.raw
    assert difference.states is not None
    assert difference.states[0] == 0 < difference.raw[0]
    assert difference.as_dict()["states"]["actions"] == 0
    assert not difference.explained_by_erasure
    repair(store, span_now(store, "2026-11"))
    assert reconcile_capacity(store, span_now(store, "2026-11")) == []


def test_damaged_capacity_states_are_not_explained_by_an_erasure(store: Store) -> None:
    actions = _stored(store)
    erased = actions[0]
    minute = erased.started_at.astimezone(dt.UTC).replace(second=0, microsecond=0)
    store.execute(
        f"DELETE FROM {store.database}.actions WHERE action_id = '{erased.action_id}' "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    record_tombstone(store, "login", "someone@example.com", uuid.uuid4(), NOW)
    (explained,) = reconcile_capacity(store, span_now(store, "2026-11"))
    assert explained.explained_by_erasure
    assert explained.states is None
    store.execute(
        f"DELETE FROM {store.database}.capacity_states WHERE action = '{erased.action}' "
        f"AND minute = toDateTime({int(minute.timestamp())}, 'UTC') "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    (damaged,) = reconcile_capacity(store, span_now(store, "2026-11"))
    assert damaged.states is not None
    assert not damaged.explained_by_erasure


def test_an_action_moved_between_quarters_of_its_hour_is_a_difference(store: Store) -> None:
    # Noted from outside: the hour's quarters still add up, so comparing them
    # per hour missed it, while billing in a zone whose month begins inside
    # that hour would count the action in the wrong month.
    actions = _stored(store)
    moved = actions[0]
    at = moved.started_at.astimezone(dt.UTC)
    quarter = at.replace(minute=at.minute // 15 * 15, second=0, microsecond=0)
    other = quarter + dt.timedelta(minutes=15 if quarter.minute < 45 else -15)
    store.insert(
        "usage_quarters",
        {
            "customer_id": [moved.customer_id] * 2,
            "quarter": [quarter, other],
            "bytes_in": [-moved.bytes_in, moved.bytes_in],
            "bytes_out": [-moved.bytes_out, moved.bytes_out],
            "actions": [-1, 1],
        },
    )
    (difference,) = reconcile(store, span_now(store, "2026-11"))
    assert difference.customer_id == moved.customer_id
    assert difference.aggregated == difference.raw
    assert difference.quartered is None  # the hour's quarters add up
    assert difference.misplaced_quarters == 2
    assert difference.as_dict()["misplaced_quarters"] == 2
    assert not difference.explained_by_erasure
    # An erased action of another hour explains that hour, not the moved quarters.
    hour = quarter.replace(minute=0)
    erased = next(
        a for a in actions
        if a.customer_id == moved.customer_id
        and a.started_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) != hour
    )  # fmt: skip
    store.execute(
        f"DELETE FROM {store.database}.actions WHERE action_id = '{erased.action_id}' "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    record_tombstone(store, "login", "someone@example.com", uuid.uuid4(), NOW)
    (difference,) = reconcile(store, span_now(store, "2026-11"))
    assert (difference.erased_actions, difference.misplaced_quarters) == (1, 2)
    assert not difference.explained_by_erasure
