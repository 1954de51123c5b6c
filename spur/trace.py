"""``spur trace``: a session's (or an action's) chain of actions as a tree.

Actions link to the action that triggered them (``parent_action_id``).
Orphans (their parent is not stored: expired, erased or never sent) are shown
at the top level and marked, never dropped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sinks.store import Store, sql_string

NIL = str(uuid.UUID(int=0))


@dataclass
class Node:
    row: dict[str, Any]
    orphan: bool = False
    children: list[Node] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.row,
            "orphan": self.orphan,
            "children": [child.as_dict() for child in self.children],
        }


def _rows(store: Store, where: str) -> list[dict[str, Any]]:
    rows = store.query(
        f"SELECT toString(action_id) AS id, toString(parent_action_id) AS parent, "
        f"action, customer_id, login, session_id, "
        f"formatDateTime(started_at, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS started, "
        f"dateDiff('millisecond', started_at, ended_at) AS duration_ms, "
        f"bytes_in, bytes_out, toString(status) AS state, error_code "
        f"FROM {store.database}.actions FINAL WHERE {where} ORDER BY started_at, action_id"
    )
    # Renamed only here: in SQL an alias named like a column would shadow it.
    renames = {"id": "action_id", "parent": "parent_action_id", "started": "started_at",
               "state": "status"}  # fmt: skip
    return [{renames.get(key, key): value for key, value in row.items()} for row in rows]


def trace(store: Store, session_id: str | None = None, action_id: str | None = None) -> list[Node]:
    """The forest of a session's actions (roots first, children in time order)."""
    if action_id is not None:
        found = _rows(store, f"action_id = toUUID('{uuid.UUID(action_id)}')")
        if not found:
            return []
        session_id = str(found[0]["session_id"])
    assert session_id is not None
    rows = _rows(store, f"session_id = {sql_string(session_id)}")
    nodes = {row["action_id"]: Node(row) for row in rows}
    roots: list[Node] = []
    for node in nodes.values():
        parent = node.row["parent_action_id"]
        if parent == NIL:
            roots.append(node)
        elif parent in nodes:
            nodes[parent].children.append(node)
        else:
            node.orphan = True
            roots.append(node)
    return roots
