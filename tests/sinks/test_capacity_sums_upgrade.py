"""Migration 0010 (128-bit capacity sums): a store whose capacity minutes wrapped at 2^64.

At migration 0009 a minute of three actions of 2^63 - 1 bytes each was
stored and published wrapped. After the upgrade, reconcile names that
minute, `--repair` rebuilds it whole from the raw actions, and new actions
folded into it add to the whole sums.
"""

from __future__ import annotations

import datetime as dt
import uuid

from msgspec.structs import replace

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.operations.capacity_differences import reconcile_capacity
from spur.operations.reconcile import span_now
from spur.operations.repair import repair
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.validate import encode
from spur_sinks.capacity import read_capacity, refresh_capacity
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store
from spur_streams.batch import Message
from spur_streams.usage import CapacityKey
from tests.migrations import apply_only, migrate_until

WIDE_SUMS = 10
ID_HALVES = 11  # the raw layout this code writes
HUGE = 2**63 - 1


def test_wrapped_minutes_are_named_and_repaired_after_the_upgrade(store: Store) -> None:
    migrate_until(store, WIDE_SUMS)
    apply_only(store, ID_HALVES)
    (template,) = simulate_actions(WorkloadShape(customers=1, sessions_per_customer=1))[:1]
    month = template.started_at.strftime("%Y-%m")
    key = CapacityKey(template.action, template.started_at.replace(second=0, microsecond=0))
    actions = [
        replace(template, action_id=uuid.UUID(int=n), bytes_in=HUGE, bytes_out=1)
        for n in range(1, 5)
    ]

    def fold(first: int, last: int) -> None:
        steps = batch_steps(store, Settings())
        batch = [Message("spur.actions.v1", 0, n, encode(actions[n])) for n in range(first, last)]
        refresh_capacity(store, steps.process_actions(batch, dt.datetime.now(dt.UTC)).capacity)

    fold(0, 3)
    (old,) = read_capacity(store, [key])
    assert old.bytes_in == 3 * HUGE % 2**64  # the hole this migration closes

    assert [m.version for m in apply_migrations(store, Settings().retention.tables)] == [WIDE_SUMS]
    (wrapped,) = reconcile_capacity(store, span_now(store, month))
    assert (wrapped.action, wrapped.minute) == (key.action, key.minute)
    assert repair(store, span_now(store, month)) == 1
    assert reconcile_capacity(store, span_now(store, month)) == []
    fold(3, 4)
    (window,) = read_capacity(store, [key])
    assert (window.actions, window.bytes_in, window.bytes_out) == (4, 4 * HUGE, 4)
    assert reconcile_capacity(store, span_now(store, month)) == []
