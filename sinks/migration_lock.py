"""One worker at a time applies migrations to a store: a lock table with a heartbeat.

Why: workers started together each applied what was missing, so one could
still be inside a migration while another, done, already consumed. Harmless
for most statements, not for all: 0010 drops and creates again the view that
feeds capacity_states (a fold landing in between misses its minutes), and
the seeds of 0006 and 0008 (``WHERE (SELECT count() FROM target) = 0``) could
copy a first rewritten state into sums that already counted it. Seen: a
worker started a few seconds after two others, on a busy machine, failed
0009 halfway because another had just dropped ``ended_at``.

How: the lock is a table created without IF NOT EXISTS (one CREATE wins, as
0011's ``actions_0011``), dropped when the holder is done. The holder writes
a heartbeat row every :data:`HEARTBEAT_SECONDS` while it migrates, however
long a statement takes. Whoever finds it held waits until every migration is
recorded; a lock whose heartbeat stopped for :data:`STALE_SECONDS` (its
holder was killed while migrating) is dropped and taken. On a cluster (ON
CLUSTER DDL) the workers migrate together as before: the lock is for one
server. The writer needs the Memory engine and the drop of the lock table
(deploy/clickhouse/users.d/spur.xml).

Blocking. Raises :class:`spur_sinks.store.StoreError` for store errors other
than the lock being held or gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import threading
import uuid
from collections.abc import Iterator

from spur_sinks.store import Store, StoreError
from spur_sinks.store_errors import ACCESS_DENIED, TABLE_ALREADY_EXISTS, UNKNOWN_TABLE

LOCK_TABLE = "schema_migrations_lock"
HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 30.0  # well above HEARTBEAT_SECONDS: a beating holder is never taken over


class NotGranted(StoreError):
    """The writer may not create the lock table (a writer role of an earlier build)."""


def take(store: Store) -> bool:
    """The lock, if nobody holds it (the caller then holds it: :func:`held`).

    Raises :class:`NotGranted` when the writer lacks the grants the lock needs.
    """
    try:
        store.execute(
            f"CREATE TABLE {store.database}.{LOCK_TABLE} "
            "(holder String, beat DateTime64(3, 'UTC')) ENGINE = Memory"
        )
    except StoreError as exc:
        if exc.code == TABLE_ALREADY_EXISTS:
            return False
        if exc.code == ACCESS_DENIED:
            raise NotGranted(str(exc), exc.code) from exc
        raise
    return True


@contextlib.contextmanager
def held(store: Store) -> Iterator[None]:
    """Beat while the body runs (the lock taken by :func:`take`), then drop the lock."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    stop = threading.Event()

    def beat() -> None:
        while True:
            # A beat missed is no harm: others wait STALE_SECONDS before they take over.
            with contextlib.suppress(StoreError):
                store.insert(LOCK_TABLE, {"holder": [holder], "beat": [dt.datetime.now(dt.UTC)]})
            if stop.wait(HEARTBEAT_SECONDS):
                return

    beating = threading.Thread(target=beat, name="spur-migration-lock", daemon=True)
    beating.start()
    try:
        yield
    finally:
        stop.set()
        beating.join()
        store.execute(f"DROP TABLE IF EXISTS {store.database}.{LOCK_TABLE}")


def take_over_if_stale(store: Store, stale_seconds: float = STALE_SECONDS) -> bool:
    """Drop the lock if its holder stopped beating ``stale_seconds`` ago; whether it did.

    Two workers finding it stale at once may both drop it, the second after
    the first took it again: they then migrate together, as without a lock.
    """
    silent = _silent_seconds(store)
    if silent is None or silent < stale_seconds:
        return False
    store.execute(f"DROP TABLE IF EXISTS {store.database}.{LOCK_TABLE}")
    return True


def _silent_seconds(store: Store) -> float | None:
    """Seconds since the lock's last beat (or its creation, before the first); None: no lock."""
    created = (
        f"(SELECT toDateTime64(metadata_modification_time, 3, 'UTC') FROM system.tables "
        f"WHERE database = '{store.database}' AND name = '{LOCK_TABLE}')"
    )
    try:
        rows = store.query(
            f"SELECT dateDiff('millisecond', greatest(max(beat), "
            f"coalesce({created}, toDateTime64(0, 3, 'UTC'))), now64(3, 'UTC')) / 1000 "
            f"AS silent FROM {store.database}.{LOCK_TABLE}"
        )
    except StoreError as exc:
        if exc.code == UNKNOWN_TABLE:
            return None
        raise
    return float(rows[0]["silent"])
