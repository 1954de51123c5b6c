"""Saved queries (``sinks/queries/*.sql``) and one guarded, read-only run of a query.

A statement runs only when :mod:`sinks.query_guard` passes it on the
server's own parse: one SELECT over spur's tables and harmless system
metadata. The store is made read-only first (for the writer's account; a
reading account's profile is already), so the engine refuses writes and
setting changes on its own as well.

Blocking. Raises :class:`QueryRefusedError` naming what was refused, and
:class:`sinks.store.StoreError` for what the store fails.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from sinks.query_guard import Guard, QueryRefusedError
from sinks.store import Store, StoreError
from sinks.url import ReadLimits

_READONLY = 164


def saved_queries() -> dict[str, str]:
    """Every saved query: name -> SQL."""
    folder = resources.files("sinks").joinpath("queries")
    return {
        entry.name.removesuffix(".sql"): entry.read_text()
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


def run_guarded(store: Store, sql: str, limits: ReadLimits | None = None) -> list[dict[str, Any]]:
    """Rows of ``sql`` if the guard passes it, read-only and within ``limits``."""
    sql = sql.strip().rstrip(";").strip()
    store.read_only(limits)
    Guard(store, store.database).check(sql)
    try:
        return store.query(sql)
    except StoreError as exc:
        if exc.code == _READONLY:  # the engine refused what the guard let through
            raise QueryRefusedError(
                "spur query is read-only: writes, DDL and settings changes are refused "
                "(use spur erase for deletions)"
            ) from exc
        raise
