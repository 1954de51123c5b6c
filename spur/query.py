"""``spur query``: saved queries (``schemas/queries/*.sql``) or ad-hoc SQL, confined.

A statement runs only when :mod:`spur.query_guard` passes it on the server's
own parse: one SELECT over spur's tables and harmless system metadata. It
runs as the reading account (spur.store_access: read-only, granted only
spur's database, with the limits of SPUR_QUERY_*), so the engine refuses
writes and setting changes on its own as well. Saved queries pass the same
guard.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from sinks.store import Store, StoreError
from spur.query_guard import Guard, QueryRefusedError
from spur.settings import ReadLimits

__all__ = ["QueryRefusedError", "resolve", "run_query", "saved_queries"]

_NAME = re.compile(r"^[a-z0-9_]+$")


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


def run_query(
    store: Store, name_or_sql: str, limits: ReadLimits | None = None
) -> list[dict[str, Any]]:
    """Rows of one guarded read; raise :class:`QueryRefusedError` naming what was refused."""
    sql = resolve(name_or_sql).strip().rstrip(";").strip()
    store.read_only(limits)
    Guard(store, store.database).check(sql)
    try:
        return store.query(sql)
    except StoreError as exc:
        if exc.code == 164:  # READONLY: the engine refused what the guard let through
            raise QueryRefusedError(
                "spur query is read-only: writes, DDL and settings changes are refused "
                "(use spur erase for deletions)"
            ) from exc
        raise
