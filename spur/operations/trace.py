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


# Chains nest at most this deep; a deeper action is shown again at the top level,
# marked ``continued``: every reader (the tree, JSON parsers, Python's recursion
# limit of ~1,000 frames) can follow it. Before, a session of 3,000
# chained actions made `spur trace` fail with a RecursionError.
MAX_DEPTH = 100


@dataclass
class Node:
    row: dict[str, Any]
    orphan: bool = False  # its trigger is not stored
    cycle: bool = False  # its triggers lead back to it: shown at the top, the loop cut above it
    continued: bool = False  # its trigger is MAX_DEPTH levels down a chain shown above
    children: list[Node] = field(default_factory=list)


def forest(rows: list[dict[str, Any]], max_depth: int = MAX_DEPTH) -> list[Node]:
    """Rows in time order as trees: roots in time order, children in time order (pure).

    Every row is in it once. An action whose chain of triggers loops (a producer
    may send an action as its own trigger) would be nobody's descendant: the
    loop is cut above its earliest action, which is shown as a root.
    """
    order = {row["action_id"]: n for n, row in enumerate(rows)}
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
    placed: set[str] = set()
    shown = _placed(roots, placed, max_depth)
    for node in nodes.values():
        if node.row["action_id"] not in placed:
            cut = min(_loop_from(node, nodes), key=lambda n: order[n.row["action_id"]])
            nodes[cut.row["parent_action_id"]].children.remove(cut)
            cut.cycle = True
            shown += _placed([cut], placed, max_depth)
    return sorted(shown, key=lambda n: order[n.row["action_id"]])


def _placed(roots: list[Node], placed: set[str], max_depth: int) -> list[Node]:
    """``roots`` and the actions continued at the top below them, each walked into
    ``placed``; a chain deeper than ``max_depth`` is cut (without recursion)."""
    shown = list(roots)
    stack = [(root, 1) for root in roots]
    while stack:
        node, depth = stack.pop()
        placed.add(node.row["action_id"])
        if depth >= max_depth and node.children:
            for child in node.children:
                child.continued = True
                shown.append(child)
                stack.append((child, 1))
            node.children = []
        else:
            stack.extend((child, depth + 1) for child in node.children)
    return shown


def _loop_from(node: Node, nodes: dict[str, Node]) -> list[Node]:
    """The loop of triggers ``node``'s chain leads into (it is nobody's descendant)."""
    seen: dict[str, int] = {}
    chain: list[Node] = []
    while node.row["action_id"] not in seen:
        seen[node.row["action_id"]] = len(chain)
        chain.append(node)
        node = nodes[node.row["parent_action_id"]]
    return chain[seen[node.row["action_id"]] :]


def trace(
    store: Store,
    session_id: str | None = None,
    action_id: str | None = None,
    max_depth: int = MAX_DEPTH,
) -> list[Node]:
    """The forest of a session's actions (roots first, children in time order)."""
    if action_id is not None:
        found = stored.action(store, action_id)
        if found is None:
            return []
        session_id = str(found["session_id"])
    assert session_id is not None
    return forest(stored.session_actions(store, session_id), max_depth)
