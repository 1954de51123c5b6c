"""The raw actions of a session, or one action, for ``spur trace``.

Blocking: one query. Raises :class:`spur_sinks.store.StoreError`.
"""

from __future__ import annotations

import uuid
from typing import Any

from spur_sinks.store import Store, sql_string

# Renamed only here: in SQL an alias named like a column would shadow it.
_RENAMES = {"id": "action_id", "parent": "parent_action_id", "started": "started_at",
            "state": "status"}  # fmt: skip


def _rows(store: Store, where: str) -> list[dict[str, Any]]:
    rows = store.query(
        f"SELECT toString(action_id) AS id, toString(parent_action_id) AS parent, "
        f"action, customer_id, login, session_id, "
        f"started_at AS started, "  # a datetime (UTC): the reader formats it
        f"dateDiff('millisecond', started_at, ended_at) AS duration_ms, "
        f"bytes_in, bytes_out, toString(status) AS state, error_code "
        f"FROM {store.database}.actions FINAL WHERE {where} ORDER BY started_at, action_id"
    )
    return [{_RENAMES.get(key, key): value for key, value in row.items()} for row in rows]


def session_actions(store: Store, session_id: str) -> list[dict[str, Any]]:
    """The session's actions in time order (ids as text, the nil UUID for no parent,
    ``started_at`` an aware UTC datetime)."""
    return _rows(store, f"session_id = {sql_string(session_id)}")


def action(store: Store, action_id: str) -> dict[str, Any] | None:
    """One action by id (the same columns), or None."""
    wanted = uuid.UUID(action_id)
    # The stored low half first: one number per row to compare before the id
    # is computed from its halves (migration 0011).
    low = wanted.int & (1 << 64) - 1
    found = _rows(store, f"action_id_low = {low} AND action_id = toUUID('{wanted}')")
    return found[0] if found else None
