"""The dedup index in the store: ``action_ids``, action id -> content hash.

Implements :class:`spur_streams.steps.dedup.DedupIndex`. Rows are written only
by the fold's materialized view (spur_sinks.windows), so an indexed id is a
counted one. Blocking; store errors are retried (spur_sinks.writer).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from spur_sinks.store import PROBE
from spur_sinks.writer import Retrying
from spur_streams.dedup import UNKNOWN_HASH
from spur_streams.routing import uuid_strings


class StoreDedupIndex:
    def __init__(self, store: Retrying) -> None:
        self._store = store

    def counted(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Content hash of every one of ``ids`` already counted (a primary-key lookup)."""
        if not ids:
            return {}
        rows = self._store.query(
            f"SELECT action_id, content_hash FROM {self._store.database}.action_ids "
            f"WHERE action_id IN (SELECT toUUID(key) FROM {PROBE})",
            uuid_strings(ids),
        )
        # Without FINAL (a tenth of the cost): an id is indexed more than once
        # only by a retried fold of the same content, or by the 0006 upgrade
        # (hash unknown); the unknown hash is taken if present, as it is the
        # one that accepts any repeat as a duplicate.
        index: dict[uuid.UUID, int] = {}
        for row in rows:
            action_id = uuid.UUID(str(row["action_id"]))
            digest = int(row["content_hash"])
            if index.get(action_id) != UNKNOWN_HASH:
                index[action_id] = digest
        return index
