"""Call the store until it succeeds: retries with capped exponential backoff.

A batch is never dropped and never half-acknowledged: :func:`retrying`
returns only after the store accepted the statement, so the caller
acknowledges the batch's Kafka offsets afterwards (offsets follow inserts,
docs/guarantees.md). While it retries, the caller's consumption is stalled: that is
the backpressure.

Blocks for as long as the store is down. Never raises for store errors: even
an error that looks permanent (a schema mismatch) is retried, loudly, because
giving up would acknowledge offsets of rows that were never stored; an
operator fixes the cause and the batch lands.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from spur_schemas.metrics import NO_METRICS, STORE_ERRORS, Metrics
from spur_sinks.store import Columns, Store, StoreError, row_count

T = TypeVar("T")
log = logging.getLogger(__name__)


# How long a kind of failure (its exception's type and code) is logged without
# its traceback after the traceback was shown once.
TRACEBACK_EVERY_SECONDS = 600.0


class _SeenFailures:
    """Which kinds of failure had their traceback logged lately; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shown: dict[tuple[str, int | None], float] = {}

    def new(self, exc: StoreError) -> bool:
        cause = exc.__cause__ or exc
        kind = (type(cause).__name__, exc.code)
        now = time.monotonic()
        with self._lock:
            if now - self._shown.get(kind, -TRACEBACK_EVERY_SECONDS) < TRACEBACK_EVERY_SECONDS:
                return False
            self._shown[kind] = now
            return True


_TRACEBACKS = _SeenFailures()


class ShutdownWhileRetrying(RuntimeError):
    """The process is stopping while the store still fails; the batch stays unacknowledged."""


def retrying(
    operation: Callable[..., T],
    *args: object,
    max_backoff: float = 10.0,
    stop: threading.Event | None = None,
    metrics: Metrics = NO_METRICS,
) -> T:
    """``operation(*args)``, repeated until it does not raise :class:`StoreError`.

    ``stop`` set (the worker is shutting down) ends the retries with
    :class:`ShutdownWhileRetrying` instead of holding the shutdown hostage.
    """
    attempt = 0
    backoff = 0.1
    while True:
        attempt += 1
        try:
            return operation(*args)
        except StoreError as exc:
            kind = "retriable" if exc.retriable else "permanent"
            metrics.inc(STORE_ERRORS, kind=kind)
            level = logging.WARNING if exc.retriable else logging.ERROR
            # One line per attempt; a traceback only for an error not seen in the
            # last TRACEBACK_EVERY_SECONDS (a store down for minutes, or restarted
            # again and again, would otherwise bury the log in identical ones).
            log.log(
                level, "store call failed (attempt %d, %s, retrying in %.1f s): %s",
                attempt, kind, backoff, exc, exc_info=attempt == 1 and _TRACEBACKS.new(exc),
            )  # fmt: skip
            if stop is not None and stop.wait(backoff):
                raise ShutdownWhileRetrying(f"stopping while the store fails: {exc}") from exc
            if stop is None:
                time.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)


class Retrying:
    """A store whose calls are :func:`retrying`, with one worker's backoff, stop and metrics."""

    def __init__(
        self,
        store: Store,
        max_backoff: float = 10.0,
        stop: threading.Event | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.store = store
        self.database = store.database
        self._max_backoff = max_backoff
        self._stop = stop
        self._metrics = metrics

    def call(self, operation: Callable[..., T], *args: object) -> T:
        return retrying(
            operation, *args, max_backoff=self._max_backoff, stop=self._stop, metrics=self._metrics
        )

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.call(self.store.query, sql, keys)
        return rows

    def insert(self, table: str, columns: Columns, dedup_token: str | None = None) -> None:
        """Insert ``columns`` unless they hold no row (no statement at all then)."""
        if row_count(columns):
            self.call(functools.partial(self.store.insert, dedup_token=dedup_token), table, columns)
