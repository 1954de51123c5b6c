"""The erasure tombstones in the store, as an erasure log.

Implements :class:`spur_streams.steps.erasure.ErasureLog` over spur_sinks.erasure
(``erased_subjects``, and the deletion of a subject's rows). Blocking;
store errors are retried (spur_sinks.writer).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from spur_sinks import erasure
from spur_sinks.tables import SubjectKind
from spur_sinks.writer import Retrying, retrying
from spur_streams.steps.erasure import Tombstones


class StoreTombstones:
    def __init__(self, store: Retrying, grace: dt.timedelta = dt.timedelta(0)) -> None:
        """``grace``: the allowed clock skew (spur_streams.steps.erasure.Tombstones)."""
        self._store = store
        self._grace = grace

    def read(self) -> Tombstones:
        read = self._store.call(erasure.read_tombstones, self._store.store)
        return dataclasses.replace(read, grace=self._grace)

    def delete_again(self, kind: SubjectKind, value: str) -> None:
        # Retried without the worker's stop: the deletion must land.
        retrying(erasure.delete_again, self._store.store, kind, value)
