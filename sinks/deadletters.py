"""Stored dead letters, counted by reason and the latest few, for ``spur deadletters``.

Blocking: two queries. Raises :class:`spur_sinks.store.StoreError`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from spur_sinks.store import Store, sql_string


def _where(reason: str | None, since: dt.datetime | None) -> str:
    conditions = ["1"]
    if reason:
        conditions.append(f"reason = {sql_string(reason)}")
    if since:
        conditions.append(f"at >= toDateTime64({int(since.timestamp())}, 3, 'UTC')")
    return " AND ".join(conditions)


def counts_by_reason(store: Store, reason: str | None, since: dt.datetime | None) -> dict[str, int]:
    """Dead letters per reason, most frequent first."""
    rows = store.query(
        f"SELECT reason, count() AS n FROM {store.database}.dead_letters FINAL "
        f"WHERE {_where(reason, since)} GROUP BY reason ORDER BY n DESC"
    )
    return {row["reason"]: int(row["n"]) for row in rows}


def latest(
    store: Store, reason: str | None, since: dt.datetime | None, limit: int
) -> list[dict[str, Any]]:
    """The ``limit`` latest dead letters, without their originals (``field`` "" if none)."""
    return store.query(
        f"SELECT at, topic, partition, offset, reason, detail, field "
        f"FROM {store.database}.dead_letters FINAL "
        f"WHERE {_where(reason, since)} ORDER BY at DESC LIMIT {int(limit)}"
    )
