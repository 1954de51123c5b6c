"""``spur trace``: a session's (or an action's) chain of actions as a tree.

Actions link to the action that triggered them (``parent_action_id``).
Orphans (their parent is not stored: expired, erased or never sent) are shown
at the top level and marked, never dropped. The rows: spur_sinks.trace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from spur_sinks import trace as stored
from spur_sinks.store import Store

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


def forest(rows: list[dict[str, Any]]) -> list[Node]:
    """Rows in time order as trees: roots first, children in time order (pure)."""
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


def trace(store: Store, session_id: str | None = None, action_id: str | None = None) -> list[Node]:
    """The forest of a session's actions (roots first, children in time order)."""
    if action_id is not None:
        found = stored.action(store, action_id)
        if found is None:
            return []
        session_id = str(found["session_id"])
    assert session_id is not None
    return forest(stored.session_actions(store, session_id))
