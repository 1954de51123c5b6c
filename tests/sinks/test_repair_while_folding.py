"""`spur reconcile --repair` while workers fold (docs/cli.md: workers may keep running).

A repair corrects a window by the difference between its raw actions and its
sums. Actions whose raw rows are stored but whose fold has not come yet (a
batch between its two writes, or a worker stopped between them: its batch is
folded when it is read again) must not be corrected for: their fold would
count them a second time. Nor may a fold that lands between the repair's
reads make it correct a difference that is gone by the time it writes.
"""

import uuid
from collections.abc import Callable

import msgspec

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.operations.capacity_differences import reconcile_capacity
from spur.operations.reconcile import reconcile, span_now
from spur.operations.repair import repair
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store
from tests.oracle import expected_billing
from tests.sinks.test_store_contract import billed, messages, process
from tests.store_hooks import HookedStore


def _month() -> tuple[list[Action], list[Action]]:
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=6, days=10))
    return actions[:-4], actions[-4:]


def test_actions_stored_but_not_folded_are_left_to_their_fold(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    p = batch_steps(store, Settings())
    folded, pending = _month()
    process(p, store, messages(folded))
    # A worker killed between the batch's raw rows and its fold: the rows are
    # stored, the ids not indexed, the batch not committed.
    sink = p.actions.sink
    sink.store_actions(
        [sink.action_rows([Located(a, 0, len(folded) + n) for n, a in enumerate(pending)])]
    )
    differences = reconcile(store, span_now(store, "2026-11"))
    assert sum(d.not_folded_actions for d in differences) == len(pending)
    repair(store, span_now(store, "2026-11"))
    assert billed(store) == expected_billing(folded)  # nothing added for them
    # The batch read again (a worker started): folded once.
    process(batch_steps(store, Settings()), store, messages(pending, len(folded)))
    assert billed(store) == expected_billing(folded + pending)
    assert reconcile(store, span_now(store, "2026-11")) == []
    assert reconcile_capacity(store, span_now(store, "2026-11")) == []


class _FoldsBefore(HookedStore):
    """The real store; ``fold`` (a worker's whole batch) runs once, before the first
    statement of ``kind`` whose text holds every one of ``markers``."""

    def __init__(
        self, store: Store, kind: str, markers: tuple[str, ...], fold: Callable[[], None]
    ) -> None:
        super().__init__(store, owns=False)
        self._kind, self._markers, self._fold = kind, markers, fold
        self.folded = False

    def before(self, kind: str, sql: str) -> None:
        if kind == self._kind and not self.folded and all(m in sql for m in self._markers):
            self.folded = True
            self._fold()


def test_a_fold_between_the_repairs_reads_is_not_corrected_for(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    p = batch_steps(store, Settings())
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=6, days=10))
    lost, other = sorted({a.customer_id for a in actions})
    late = [a for a in actions if a.customer_id == other][-4:]
    folded = [a for a in actions if a not in late]
    process(p, store, messages(folded))
    # A disaster to repair: one customer's sums lost.
    store.execute(
        f"DELETE FROM {store.database}.usage_sums WHERE customer_id = {lost} "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    # Another customer's batch stored and folded after the repair read the raw
    # actions and before it read the sums: that reading sees them summed, not stored.
    racing = _FoldsBefore(
        store,
        "query",
        (f"FROM {store.database}.usage_sums",),
        lambda: process(p, store, messages(late, len(folded))),
    )
    repair(racing, span_now(racing, "2026-11"))
    assert racing.folded
    assert billed(store) == expected_billing(folded + late)
    assert reconcile(store, span_now(store, "2026-11")) == []


def test_a_fold_between_a_capacity_rebuilds_statements_is_rebuilt_again(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    p = batch_steps(store, Settings())
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=6, days=10))
    process(p, store, messages(actions))
    # A disaster to repair: one capacity minute counted twice.
    doubled = actions[0]
    minute = int(doubled.started_at.timestamp()) // 60 * 60
    store.execute(
        f"INSERT INTO {store.database}.capacity_states "
        "SETTINGS insert_deduplication_token = 'disaster' "
        f"SELECT * FROM {store.database}.capacity_states WHERE minute = toDateTime({minute}, 'UTC')"
    )
    process(p, store, messages(actions[:1]))  # refreshes the doubled minute's window
    assert reconcile_capacity(store, span_now(store, "2026-11")) != []
    # Late actions of that minute and type, folded after the rebuild deleted its states.
    late = [msgspec.structs.replace(doubled, action_id=uuid.uuid4()) for _ in range(3)]
    # Between the rebuild's delete of the minute's states and its insert.
    racing = _FoldsBefore(
        store,
        "execute",
        ("INSERT INTO", "capacity_states"),
        lambda: process(p, store, messages(late, len(actions))),
    )
    repair(racing, span_now(racing, "2026-11"))
    assert racing.folded
    assert reconcile_capacity(store, span_now(store, "2026-11")) == []
    assert billed(store) == expected_billing(actions + late)
