"""`spur reconcile --repair` while workers fold (docs/cli.md: workers may keep running).

A repair corrects a window by the difference between its raw actions and its
sums. Actions whose raw rows are stored but whose fold has not come yet (a
batch between its two writes, or a worker stopped between them: its batch is
folded when it is read again) must not be corrected for: their fold would
count them a second time. Nor may a fold that lands between the repair's
reads make it correct a difference that is gone by the time it writes.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.operations.billing import billing
from spur.operations.reconcile import reconcile, reconcile_capacity, repair
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.validate import encode
from spur_sinks.capacity import refresh_capacity
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Columns, Store
from spur_streams.batch import Batch, Message
from tests.oracle import expected_billing
from tests.sinks.test_store_contract import NOW


def _messages(actions: Sequence[Action], first_offset: int = 0) -> list[Message]:
    return [
        Message("spur.actions.v1", 0, first_offset + n, encode(a)) for n, a in enumerate(actions)
    ]


def _process(p: Batch, store: Store, batch: list[Message]) -> None:
    refresh_capacity(store, p.process_actions(batch, NOW).capacity)


def _billed(store: Store) -> dict[int, tuple[int, ...]]:
    return {u.customer_id: (u.bytes_in, u.bytes_out, u.actions) for u in billing(store, "2026-11")}


def _month() -> tuple[list[Action], list[Action]]:
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=6, days=10))
    return actions[:-4], actions[-4:]


def test_actions_stored_but_not_folded_are_left_to_their_fold(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    p = batch_steps(store, Settings())
    folded, pending = _month()
    _process(p, store, _messages(folded))
    # A worker killed between the batch's raw rows and its fold: the rows are
    # stored, the ids not indexed, the batch not committed.
    p.actions.sink.store_actions([Located(a, 0, len(folded) + n) for n, a in enumerate(pending)])
    differences = reconcile(store, "2026-11")
    assert sum(d.not_folded_actions for d in differences) == len(pending)
    repair(store, "2026-11")
    assert _billed(store) == expected_billing(folded)  # nothing added for them
    # The batch read again (a worker started): folded once.
    _process(batch_steps(store, Settings()), store, _messages(pending, len(folded)))
    assert _billed(store) == expected_billing(folded + pending)
    assert reconcile(store, "2026-11") == []
    assert reconcile_capacity(store, "2026-11") == []


class _FoldsDuringReads:
    """The real store; before the first read of ``marker``, ``fold`` runs (a worker's
    whole batch landing between two of the repair's queries)."""

    def __init__(self, store: Store, marker: str, fold: Callable[[], None]) -> None:
        self._store, self._marker, self._fold = store, marker, fold
        self.database = store.database
        self.folded = False

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if not self.folded and self._marker in sql:
            self.folded = True
            self._fold()
        return self._store.query(sql, keys)

    def stream(self, sql: str, deadline_seconds: float) -> Iterator[dict[str, Any]]:
        return self._store.stream(sql, deadline_seconds)

    def execute(self, sql: str) -> None:
        self._store.execute(sql)

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        self._store.insert(table, columns, dedup_token=dedup_token)

    def read_only(self, limits: Any = None) -> None:
        self._store.read_only(limits)

    def close(self) -> None:
        return


def test_a_fold_between_the_repairs_reads_is_not_corrected_for(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    p = batch_steps(store, Settings())
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=6, days=10))
    lost, other = sorted({a.customer_id for a in actions})
    late = [a for a in actions if a.customer_id == other][-4:]
    folded = [a for a in actions if a not in late]
    _process(p, store, _messages(folded))
    # A disaster to repair: one customer's sums lost.
    store.execute(
        f"DELETE FROM {store.database}.usage_sums WHERE customer_id = {lost} "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    # Another customer's batch stored and folded after the repair read the raw
    # actions and before it read the sums: that reading sees them summed, not stored.
    racing = _FoldsDuringReads(
        store,
        f"FROM {store.database}.usage_sums",
        lambda: _process(p, store, _messages(late, len(folded))),
    )
    repair(racing, "2026-11")
    assert racing.folded
    assert _billed(store) == expected_billing(folded + late)
    assert reconcile(store, "2026-11") == []
