"""Migration 0009 (duration instead of a stored ended_at) keeps every stored action's times.

A store at migration 0008 holds actions written the old way (ended_at a
column of its own, sub-millisecond ends, ends long after their starts); the
upgrade runs; every ended_at reads back as before, also when the migration
is run a second time (a crash before it was recorded); new rows are written
the new way and read back the same.
"""

from __future__ import annotations

import datetime as dt
import uuid

from spur.settings import Settings
from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_sinks.migrate import apply_migrations, migrations, render
from spur_sinks.raw_events import StoreRawEvents
from spur_sinks.store import ServerStore, Store
from spur_sinks.writer import Retrying
from tests.migrations import migrate_together, migrate_until

START = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=30)
LAYOUT = 9


def ends(store: Store) -> dict[int, str]:
    rows = store.query(
        f"SELECT kafka_offset, toString(ended_at) AS ended FROM {store.database}.actions FINAL"
    )
    return {int(r["kafka_offset"]): str(r["ended"]) for r in rows}


def test_the_upgrade_keeps_every_end_and_new_rows_store_theirs(store: Store) -> None:
    migrate_until(store, LAYOUT)
    # The old layout: ended_at stored; ends at 0 ms, sub-millisecond, days later.
    store.execute(
        f"INSERT INTO {store.database}.actions (customer_id, started_at, ended_at, action_id, "
        "action, login, session_id, bytes_in, bytes_out, kafka_offset) SELECT 7, "
        f"toDateTime64({int(START.timestamp())}, 3, 'UTC') + number, "
        f"toDateTime64({int(START.timestamp())}, 3, 'UTC') + number + number * 7919.1234, "
        "generateUUIDv4(), 'x', 'ann', 's', 1, 2, number FROM numbers(500)"
    )
    before = ends(store)
    assert len(before) == 500
    applied = apply_migrations(store, Settings().retention.tables)
    assert [m.version for m in applied] == [m.version for m in migrations() if m.version >= LAYOUT]
    assert ends(store) == before
    (again,) = [m for m in migrations() if m.version == LAYOUT]
    for statement in render(again, Settings().retention.tables, store.database):
        store.execute(statement)
    assert ends(store) == before

    started = START.astimezone(dt.timezone(dt.timedelta(hours=-3, minutes=-30)))
    new = Action(
        action_id=uuid.uuid4(), action="x", customer_id=7, login="ann", session_id="s",
        started_at=started, ended_at=started + dt.timedelta(days=200, microseconds=999_999),
        bytes_in=1, bytes_out=2, client_ip="10.0.0.1",
    )  # fmt: skip
    raw = StoreRawEvents(Retrying(store))
    raw.store_actions([raw.action_rows([Located(new, 0, 10_000)])])
    expected = (START + dt.timedelta(days=200, microseconds=999_000)).strftime(
        "%Y-%m-%d %H:%M:%S.%f"
    )[:-3]
    assert ends(store)[10_000] == expected


def test_select_star_shows_the_computed_end_to_the_writer_reading_too(store: Store) -> None:
    apply_migrations(store, Settings().retention.tables)
    started = START
    action = Action(
        action_id=uuid.uuid4(), action="x", customer_id=7, login="ann", session_id="s",
        started_at=started, ended_at=started + dt.timedelta(seconds=3), bytes_in=1, bytes_out=2,
        client_ip="10.0.0.1",
    )  # fmt: skip
    raw = StoreRawEvents(Retrying(store))
    raw.store_actions([raw.action_rows([Located(action, 0, 1)])])
    assert isinstance(store, ServerStore)
    reading = ServerStore(store.url, 30.0)  # as `spur query` reads with the writer's account
    try:
        reading.read_only()
        (row,) = reading.query(f"SELECT * FROM {store.database}.actions")
    finally:
        reading.close()
    assert row["ended_at"] == action.ended_at


def test_workers_starting_together_all_migrate_the_same_store(store: Store) -> None:
    # Each worker applies what is missing when it starts; six at once on a fresh
    # store interleave the statements of one migration (0009 drops ended_at before
    # it adds it back computed), and none may fail for it.
    failures = migrate_together(store, 6)
    assert failures == []
    columns = {
        row["name"]: row["default_kind"]
        for row in store.query(
            f"SELECT name, default_kind FROM system.columns "
            f"WHERE database = '{store.database}' AND table = 'actions'"
        )
    }
    assert columns["ended_at"] == "ALIAS"
    assert "duration_ms" in columns
