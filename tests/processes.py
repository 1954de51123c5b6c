"""The processes a test's process started, read from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> set[int]:
    """The live children of ``pid`` (zombies excluded); empty once ``pid`` is gone."""
    found: set[int] = set()
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    return {child for child in found if _state(child) not in (None, "Z")}


def descendants(pid: int) -> set[int]:
    """The live children of ``pid``, theirs, and so on."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        kids = children(todo.pop()) - found
        found |= kids
        todo += sorted(kids)
    return found


def command_line(pid: int) -> bytes:
    """The process's arguments, NUL-separated; empty once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
