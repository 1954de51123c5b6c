"""Write a batch to the store, retrying transient failures with backoff.

A batch is never dropped and never half-acknowledged: :func:`insert_until_done`
returns only after the insert succeeded, so the caller acknowledges the
batch's Kafka offsets afterwards (offsets follow inserts, DESIGN §4). While it
retries, the caller's consumption is stalled: that is the backpressure.

May block for as long as the store is down (with capped exponential backoff).
Never raises for store errors: even an error that looks permanent (a schema
mismatch) is retried, loudly, because giving up would acknowledge offsets of
rows that were never stored; an operator fixes the cause and the batch lands.
"""

from __future__ import annotations

import asyncio
import logging

from sinks.store import Columns, Store, StoreError

log = logging.getLogger(__name__)


async def insert_until_done(
    store: Store,
    table: str,
    columns: Columns,
    *,
    dedup_token: str | None = None,
    max_backoff_seconds: float = 10.0,
) -> int:
    """Insert ``columns`` into ``table``; return the number of attempts it took."""
    attempt = 0
    backoff = 0.1
    while True:
        attempt += 1
        try:
            await asyncio.to_thread(store.insert, table, columns, dedup_token=dedup_token)
        except StoreError as exc:
            level = logging.WARNING if exc.retriable else logging.ERROR
            log.log(
                level, "insert into %s failed (attempt %d, retrying in %.1f s): %s",
                table, attempt, backoff, exc,
            )  # fmt: skip
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_seconds)
        else:
            return attempt
