"""Fault injection at the store boundary, for the outage tests (never in production code).

:class:`FaultyStore` fails every store call with a retriable
:class:`spur_sinks.store.StoreError` while a file exists, as if ClickHouse
were down; the real store underneath is untouched. This is how the outage
tests take the store away from one worker while the server stays up for the
other tests. :class:`FaultyWriter` opens it the way the worker opens its
store (spur.store_access.StoreOpener); tests/faults/faulty_worker.py runs the
real worker with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spur.settings import Settings
from spur.store_access import open_writer
from spur_sinks.store import Columns, Store, StoreError
from spur_sinks.store_errors import NETWORK_ERROR
from spur_sinks.url import ReadLimits


class FaultyStore:
    def __init__(self, inner: Store, fault_file: Path) -> None:
        self._inner = inner
        self._fault_file = fault_file
        self.database = inner.database

    def _check(self) -> None:
        if self._fault_file.exists():
            raise StoreError(f"injected outage: {self._fault_file} exists", code=NETWORK_ERROR)

    def execute(self, sql: str) -> None:
        self._check()
        self._inner.execute(sql)

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        self._check()
        return self._inner.query(sql, keys)

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        self._check()
        self._inner.insert(table, columns, dedup_token=dedup_token)

    def stream(self, sql: str, deadline_seconds: float) -> Iterator[dict[str, Any]]:
        self._check()
        return self._inner.stream(sql, deadline_seconds)

    def read_only(self, limits: ReadLimits | None = None) -> None:
        self._inner.read_only(limits)

    def close(self) -> None:
        self._inner.close()


@dataclass(frozen=True)
class FaultyWriter:
    """The writer's store, failing while ``fault_file`` exists; a plain value, so that
    the worker's spawned actions processes receive it too."""

    fault_file: Path

    def __call__(self, settings: Settings) -> Store:
        return FaultyStore(open_writer(settings), self.fault_file)
