"""Saved queries (``sinks/queries/*.sql``) and one guarded, read-only run of a query.

A statement runs only when :mod:`spur_sinks.query_guard` passes it on the
server's own parse: one SELECT over spur's tables and harmless system
metadata. The store is made read-only first (for the writer's account; a
reading account's profile is already), so the engine refuses writes and
setting changes on its own as well.

Blocking. Raises :class:`QueryRefusedError` naming what was refused, and
:class:`spur_sinks.store.StoreError` for what the store fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

from spur_sinks.query_guard import Guard, QueryRefusedError
from spur_sinks.store import Store, StoreError
from spur_sinks.store_errors import READONLY, TOO_MANY_ROWS_OR_BYTES
from spur_sinks.url import ReadLimits


def saved_queries() -> dict[str, str]:
    """Every saved query: name -> SQL."""
    folder = resources.files("spur_sinks").joinpath("queries")
    return {
        entry.name.removesuffix(".sql"): entry.read_text()
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


# How long past its time limit a read may run before the client cuts it off: the
# server checks the limit between blocks, and inside some functions only.
CANCEL_MARGIN_SECONDS = 5.0


def run_guarded(store: Store, sql: str, limits: ReadLimits | None = None) -> list[dict[str, Any]]:
    """Rows of ``sql`` if the guard passes it, read-only and within ``limits``."""
    return list(stream_guarded(store, sql, limits))


def stream_guarded(
    store: Store, sql: str, limits: ReadLimits | None = None
) -> Iterator[dict[str, Any]]:
    """Rows of ``sql`` as they arrive, if the guard passes it, read-only and within
    ``limits``; cut off (and so cancelled on the server) :data:`CANCEL_MARGIN_SECONDS`
    after the time limit. The guard runs before the first row is asked for."""
    sql = sql.strip().rstrip(";").strip()
    store.read_only(limits)
    Guard(store, store.database).check(sql)
    limits = limits or ReadLimits()
    deadline = limits.max_execution_seconds + CANCEL_MARGIN_SECONDS
    return _within_size(_refusing_writes(store.stream(sql, deadline)), limits)


def _within_size(rows: Iterator[dict[str, Any]], limits: ReadLimits) -> Iterator[dict[str, Any]]:
    """``rows`` until they pass the limits' rows or bytes: then the read is refused.

    Counted here because the server does not stop at ``max_result_bytes``
    (measured: 400 MB of 10 kB strings came back past a 50 MB limit).
    """
    size = 0
    for count, row in enumerate(rows, start=1):
        size += sum(map(_size, row.values()))
        if count > limits.max_result_rows or size > limits.max_result_bytes:
            raise StoreError(
                f"the read was stopped: its result passed {limits.max_result_rows:,} rows or "
                f"{limits.max_result_bytes:,} bytes",
                TOO_MANY_ROWS_OR_BYTES,
            )
        yield row


def _size(value: Any) -> int:
    """About the bytes of a value as the result holds it (text and blobs by length)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return 8 + sum(map(_size, value))
    if isinstance(value, dict):
        return 8 + sum(_size(k) + _size(v) for k, v in value.items())
    return 8


def _refusing_writes(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    try:
        yield from rows
    except StoreError as exc:
        if exc.code == READONLY:  # the engine refused what the guard let through
            raise QueryRefusedError(
                "spur query is read-only: writes, DDL and settings changes are refused "
                "(use spur erase for deletions)"
            ) from exc
        raise
