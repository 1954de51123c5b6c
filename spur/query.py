"""``spur query``: saved queries (``schemas/queries/*.sql``) or read-only SQL.

The store is switched to read-only before the statement runs, so a write is
refused by the engine itself, not by parsing the SQL here.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from sinks.store import Store, StoreError

_NAME = re.compile(r"^[a-z0-9_]+$")


class QueryRefusedError(ValueError):
    """The statement tried to write, or names no saved query; the message says which."""


def saved_queries() -> dict[str, str]:
    folder = resources.files("schemas").joinpath("queries")
    return {
        entry.name.removesuffix(".sql"): entry.read_text()
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


def resolve(name_or_sql: str) -> str:
    """The SQL of a saved query by name, or the argument itself as SQL."""
    if _NAME.match(name_or_sql):
        queries = saved_queries()
        if name_or_sql not in queries:
            raise QueryRefusedError(
                f"no saved query {name_or_sql!r}; saved: {', '.join(sorted(queries))} (or pass SQL)"
            )
        return queries[name_or_sql]
    return name_or_sql


def run_query(store: Store, name_or_sql: str) -> list[dict[str, Any]]:
    sql = resolve(name_or_sql).strip().rstrip(";")
    store.read_only()
    try:
        return store.query(sql)
    except StoreError as exc:
        if exc.code == 164:  # READONLY
            raise QueryRefusedError(
                "spur query is read-only: writes, DDL and settings changes are refused "
                "(use spur erase for deletions)"
            ) from exc
        raise
