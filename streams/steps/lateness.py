"""Step ``lateness``: how far behind its partition's newest event time an action is.

Input: the batch's new actions (after dedup); per partition, this worker's
newest ``started_at`` among the new actions it saw (state assigned and
revoked explicitly with the partition, :meth:`Lateness.assign` and
:meth:`Lateness.revoke`).
Output: nothing but metrics: ``LATE_EVENTS`` (actions more than the allowed
lateness behind their partition's mark) and ``EVENT_TIME_LAG`` per partition.
Guarantees: lateness is only measured; it never keeps an action out of
billing (docs/guarantees.md). Only new actions move a mark, and an action from the
future is a dead letter before it gets here.
Failure: pure apart from the metrics; never raises, never blocks (a lock
guards the marks: the rebalance listener and a batch may run in two threads).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from operator import attrgetter

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.metrics import EVENT_TIME_LAG, LATE_EVENTS, Metrics

_POSITION = attrgetter("partition", "offset")  # C-speed sort key


class Lateness:
    """Each owned partition's newest event time (in memory, never a reason to fold or not)."""

    def __init__(self, allowed: dt.timedelta, metrics: Metrics) -> None:
        self._allowed = allowed
        self._metrics = metrics
        self._newest: dict[int, dt.datetime] = {}
        self._lock = threading.Lock()

    def assign(self, partitions: Iterable[int]) -> None:
        """Partitions (re)joining this worker: another worker may have read them
        meanwhile, so what this one measured before is forgotten."""
        self.revoke(partitions)

    def revoke(self, partitions: Iterable[int]) -> None:
        """Partitions leaving this worker: their marks are dropped."""
        with self._lock:
            for partition in partitions:
                self._newest.pop(partition, None)

    def measure(self, items: Sequence[Located[Action]]) -> None:
        late = 0
        with self._lock:
            for item in sorted(items, key=_POSITION):
                newest = self._newest.get(item.partition)
                started = item.event.started_at
                if newest is None or started > newest:
                    self._newest[item.partition] = started
                elif started < newest - self._allowed:  # only then: most arrive in order
                    late += 1
            marks = list(self._newest.items())
        self._metrics.inc(LATE_EVENTS, late)
        wall = dt.datetime.now(dt.UTC)
        for partition, newest in marks:
            self._metrics.set(
                EVENT_TIME_LAG, (wall - newest).total_seconds(), partition=str(partition)
            )
