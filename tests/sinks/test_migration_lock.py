"""One worker at a time migrates a store (spur_sinks.migration_lock)."""

from __future__ import annotations

import threading
import time

import pytest

from spur.settings import Settings
from spur_sinks import migration_lock
from spur_sinks.migrate import Migration, apply_migrations, bootstrap, migrations
from spur_sinks.store import ServerStore, Store
from spur_sinks.store_errors import ACCESS_DENIED
from tests.migrations import migrate_until

RETENTION = Settings().retention.tables
EVERY = [m.version for m in migrations()]


def _lock_tables(store: Store) -> list[str]:
    rows = store.query(
        f"SELECT name FROM system.tables WHERE database = '{store.database}' "
        f"AND name LIKE '{migration_lock.LOCK_TABLE}%'"
    )
    return [str(row["name"]) for row in rows]


def _in_thread(
    store: Store, results: list[list[Migration]], stale_seconds: float = 30.0
) -> threading.Thread:
    assert isinstance(store, ServerStore)
    own = ServerStore(store.url, 30.0)

    def run() -> None:
        try:
            results.append(
                apply_migrations(own, RETENTION, pause=0.05, stale_seconds=stale_seconds)
            )
        finally:
            own.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_workers_starting_together_migrate_one_at_a_time(store: Store) -> None:
    results: list[list[Migration]] = []
    threads = [_in_thread(store, results) for _ in range(4)]
    for thread in threads:
        thread.join(120)
    # One applied every migration; the others waited and applied nothing.
    assert sorted([m.version for m in applied] for applied in results) == [[], [], [], EVERY]
    assert _lock_tables(store) == []


def test_a_held_lock_is_waited_for_until_everything_is_recorded(store: Store) -> None:
    bootstrap(store, None, 0.1)
    assert migration_lock.take(store)
    results: list[list[Migration]] = []
    with migration_lock.held(store):
        stale = 2.5 * migration_lock.HEARTBEAT_SECONDS
        waiter = _in_thread(store, results, stale_seconds=stale)
        time.sleep(2 * stale)  # it beats: never stale
        assert waiter.is_alive(), "migrated while another held the lock"
        migrate_until(store, EVERY[-1] + 1)  # the holder's migrations
    waiter.join(60)
    assert results == [[]]
    assert _lock_tables(store) == []


def test_a_lock_whose_holder_died_is_taken_over(store: Store) -> None:
    bootstrap(store, None, 0.1)
    assert migration_lock.take(store)  # and never a beat: its holder was killed
    started = time.monotonic()
    applied = apply_migrations(store, RETENTION, pause=0.05, stale_seconds=2.0)
    assert [m.version for m in applied] == EVERY
    # The lock's creation counts in whole seconds: taken over 1-2 s after the call.
    assert time.monotonic() - started >= 1.0
    assert _lock_tables(store) == []


def test_a_writer_without_the_lock_s_grants_migrates_as_before(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A writer role of an earlier build (deploy/clickhouse/users.d) may not create
    # the lock table: the server refuses with ACCESS_DENIED.
    def refused(store: Store) -> bool:
        raise migration_lock.NotGranted("Not enough privileges", ACCESS_DENIED)

    monkeypatch.setattr(migration_lock, "take", refused)
    applied = apply_migrations(store, RETENTION, pause=0.05)
    assert [m.version for m in applied] == EVERY
    assert "migrating without the migration lock" in caplog.text
