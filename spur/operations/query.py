"""``spur query``: a saved query by name, or ad-hoc SQL, confined (spur_sinks.query).

It runs as the reading account (spur.store_access: read-only, granted only
spur's database, with the limits of SPUR_QUERY_*); saved queries pass the
same guard as ad-hoc SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from spur_sinks.query import run_guarded, saved_queries, stream_guarded
from spur_sinks.query_guard import QueryRefusedError
from spur_sinks.store import Store
from spur_sinks.url import ReadLimits

__all__ = ["QueryRefusedError", "resolve", "run_query", "saved_queries", "stream_query"]

_NAME = re.compile(r"^[a-z0-9_]+$")


def resolve(name_or_sql: str) -> str:
    """The SQL of a saved query by name, or the argument itself as SQL."""
    if not name_or_sql.strip():
        raise QueryRefusedError(
            "no query given: name a saved query "
            f"({', '.join(sorted(saved_queries()))}) or pass one SELECT"
        )
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
    return run_guarded(store, resolve(name_or_sql), limits)


def stream_query(
    store: Store, name_or_sql: str, limits: ReadLimits | None = None
) -> Iterator[dict[str, Any]]:
    """:func:`run_query`'s rows as they arrive (refused before the first, if at all)."""
    return stream_guarded(store, resolve(name_or_sql), limits)
