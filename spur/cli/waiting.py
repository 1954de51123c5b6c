"""A reader's store that waits for a free slot: the account's concurrent reads are capped.

A read-only account may run four reads at once (spur_sinks.url.ReadLimits);
a fifth is refused by the server. Every read command's store waits instead,
saying so once on stderr, and tries again for :data:`SLOT_WAIT_SECONDS`,
then lets the refusal (with its hint) through.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import click

from spur_sinks.store import Columns, Store, StoreError
from spur_sinks.store_errors import TOO_MANY_SIMULTANEOUS_QUERIES
from spur_sinks.url import ReadLimits

T = TypeVar("T")

# How long a read waits for one of its account's concurrent reads to end.
SLOT_WAIT_SECONDS = 10.0


class WaitingForASlot:
    """``store`` whose reads wait while its account runs as many as it may."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.database = store.database
        self._told = False

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return self._when_free(lambda: self._store.query(sql, keys))

    def stream(self, sql: str, deadline_seconds: float) -> Iterator[dict[str, Any]]:
        return self._when_free(lambda: _started(self._store.stream(sql, deadline_seconds)))

    def execute(self, sql: str) -> None:
        self._when_free(lambda: self._store.execute(sql))

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        self._store.insert(table, columns, dedup_token=dedup_token)

    def read_only(self, limits: ReadLimits | None = None) -> None:
        self._when_free(lambda: self._store.read_only(limits))  # it reads a setting

    def close(self) -> None:
        self._store.close()

    def _when_free(self, call: Callable[[], T]) -> T:
        deadline = time.monotonic() + SLOT_WAIT_SECONDS
        while True:
            try:
                return call()
            except StoreError as exc:
                if exc.code != TOO_MANY_SIMULTANEOUS_QUERIES or time.monotonic() > deadline:
                    raise
            if not self._told:
                click.echo(
                    "the store runs as many reads of this account as it may; waiting up to "
                    f"{SLOT_WAIT_SECONDS:.0f} s for one to end",
                    err=True,
                )
                self._told = True
            time.sleep(0.5)


def _started(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``rows`` with its first row fetched: a refused read fails here, not later."""
    first = next(rows, None)
    return rows if first is None else itertools.chain([first], rows)
