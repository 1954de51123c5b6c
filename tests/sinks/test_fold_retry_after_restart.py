"""A fold sent again after the store restarted lands once in every target.

A worker whose fold failed because the store died sends the same statement,
with the same deduplication token, when the store is back; each of the fold's
four targets must then keep it once. They did not after migration 0010 first
altered the capacity view in place (`ALTER ... MODIFY QUERY`): once the
server restarted, it derived another token for that view's inserts and
capacity_states took the fold a second time (measured; the migration now
drops and creates the view). Here: a store of its own, migrated, a fold, a
restart, the same fold again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import msgspec

from spur.dev.local_store import LocalStore
from spur.local_state import WRITER
from spur.settings import Settings, parse_store_url
from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import ServerStore, Store
from spur_sinks.windows import fold_columns, fold_token

DATABASE = "spur"
TARGETS = {
    "action_ids": "count()",
    "usage_sums": "sum(actions)",
    "usage_quarters": "sum(actions)",
    "capacity_states": "sum(actions)",
}


def fold(actions: int) -> dict[str, list[Any]]:
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    located = [
        Located(
            Action(
                action_id=uuid.uuid4(), action="document.export", customer_id=1 + n % 7,
                login="ann@example.com", session_id="s",
                started_at=start - dt.timedelta(seconds=n), ended_at=start,
                bytes_in=10, bytes_out=20, client_ip="192.0.2.1",
            ),
            0,
            n,
        )
        for n in range(actions)
    ]  # fmt: skip
    return fold_columns(located, list(range(actions)))


def folded(store: Store) -> dict[str, int]:
    return {
        table: int(store.query(f"SELECT toUInt64({what}) AS n FROM {DATABASE}.{table}")[0]["n"])
        for table, what in TARGETS.items()
    }


def test_a_fold_retried_after_a_restart_lands_once(tmp_path: Path) -> None:
    server = LocalStore(tmp_path / "store", databases=(DATABASE,))
    columns = fold(2_000)
    token = fold_token(msgspec.json.encode(columns["action_id"]))
    counts = []
    try:
        for attempt in range(3):  # the first fold, then once after each restart
            running = server.start()
            store = ServerStore(parse_store_url(running.url(WRITER, DATABASE)), 30.0)
            try:
                if attempt == 0:
                    apply_migrations(store, Settings().retention.tables)
                store.insert("action_folds", columns, dedup_token=token)
                counts.append(folded(store))
            finally:
                store.close()
            server.stop()
    finally:
        server.stop()
    assert counts == [dict.fromkeys(TARGETS, 2_000)] * 3
