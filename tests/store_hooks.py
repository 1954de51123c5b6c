"""A real store with hooks around each statement: for tests that inject a fault or a
racing writer at an exact point of the pipeline (never in production code)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from spur_sinks.store import Columns, Store
from spur_sinks.url import ReadLimits


class HookedStore:
    """``inner`` with :meth:`before` and :meth:`after` called around every statement
    (``kind``: query, execute, insert or stream; an insert's ``sql`` is
    ``INSERT INTO <table>``). Subclasses override them; closing closes ``inner``
    only when ``owns`` it."""

    def __init__(self, inner: Store, *, owns: bool = True) -> None:
        self._inner = inner
        self._owns = owns
        self.database = inner.database

    def before(self, kind: str, sql: str) -> None:
        return

    def after(self, kind: str, sql: str) -> None:
        return

    def execute(self, sql: str) -> None:
        self.before("execute", sql)
        self._inner.execute(sql)
        self.after("execute", sql)

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        self.before("query", sql)
        rows = self._inner.query(sql, keys)
        self.after("query", sql)
        return rows

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        self.before("insert", f"INSERT INTO {table}")
        self._inner.insert(table, columns, dedup_token=dedup_token)
        self.after("insert", f"INSERT INTO {table}")

    def stream(self, sql: str, deadline_seconds: float) -> Iterator[dict[str, Any]]:
        self.before("stream", sql)
        return self._inner.stream(sql, deadline_seconds)

    def read_only(self, limits: ReadLimits | None = None) -> None:
        self._inner.read_only(limits)

    def close(self) -> None:
        if self._owns:
            self._inner.close()
