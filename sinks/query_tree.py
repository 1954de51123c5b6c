"""The tree that ``EXPLAIN AST`` prints, read back (pure; used by spur_sinks.query_guard).

ClickHouse prints one node a line, indented by depth, with its kind, its
name or value, and how many children it has. A name with a line break
would print as several lines: a tree whose lines do not add up to the
children ClickHouse counted is refused as unreadable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spur_schemas.errors import InputError


class QueryRefusedError(InputError, ValueError):
    """The statement is not one confined read, or names no saved query; the message says why."""


_LINE = re.compile(r"^(?P<depth> *)(?P<kind>\S+)(?P<text>.*?)(?: \(children (?P<n>\d+)\))?$")
_ALIAS = re.compile(r" \(alias .*\)$")


@dataclass
class Node:
    kind: str
    text: str  # the name (Function, Identifier, ...) or value (Literal)
    declared: int  # children as ClickHouse counted them
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)


def parse_tree(lines: list[str]) -> Node:
    """The tree of ``EXPLAIN AST`` output; refused when lines and counts disagree."""
    stack: list[Node] = []
    root: Node | None = None
    for line in lines:
        match = _LINE.match(line)
        depth = len(match.group("depth")) if match else -1
        if match is None or depth > len(stack) or (root is not None and depth == 0):
            raise QueryRefusedError(
                "refused: the parsed query is unreadable (a name with a line break?)"
            )
        del stack[depth:]
        text = _ALIAS.sub("", match.group("text")).strip()
        node = Node(match.group("kind"), text, int(match.group("n") or 0))
        if stack:
            node.parent = stack[-1]
            stack[-1].children.append(node)
        root = root or node
        stack.append(node)
    if root is None:
        raise QueryRefusedError("refused: an empty query")
    _check_counts(root)
    return root


def _check_counts(node: Node) -> None:
    if len(node.children) != node.declared:
        raise QueryRefusedError(
            "refused: the parsed query is unreadable (a name with a line break?)"
        )
    for child in node.children:
        _check_counts(child)
