"""The Kafka library's repeated complaints, logged once per interval with a count.

While the broker is down, aiokafka retries its fetches and metadata requests
without backing off (aio-libs/aiokafka#496) and logs each failure: 150-220
lines a second from an idle worker, thousands under load (11.8 MB in an 18 s
outage, measured from outside). The first of each message still says at once
that the broker is gone; the same message again within :data:`EVERY_SECONDS`
is held back and counted, and the next one let through says how many were.

Blocking: nothing. Raises nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

EVERY_SECONDS = 10.0
LIMITED_LOGGERS = ("aiokafka", "faust.transport")  # and every logger below them
_KNOWN_MESSAGES = 1_000  # distinct (logger, message) pairs; forgotten all at once beyond


class RepeatLimit(logging.Filter):
    """Each (logger, message template) through at most once per ``every`` seconds."""

    def __init__(self, every: float = EVERY_SECONDS, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.every = every
        self.clock = clock
        # (logger, template) -> (when last let through, how many held back since)
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        # The template, not the text: "Unable connect to node with id %s: %s"
        # repeats with other errors and addresses filled in.
        key = (record.name, record.msg)
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.every:
            self._seen[key] = (seen[0], seen[1] + 1)
            return False
        if len(self._seen) >= _KNOWN_MESSAGES:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} [{seen[1]} more like this in {now - seen[0]:.0f} s]"
        return True


def limit_repeated_logs(limit: RepeatLimit | None = None) -> RepeatLimit:
    """Put ``limit`` (a new one by default) on every logger of :data:`LIMITED_LOGGERS`.

    A logger's filter sees only the records made by that logger, not those its
    children pass up; so it goes on each one that exists, after the libraries
    are imported (they make their loggers at import).
    """
    import aiokafka  # noqa: F401  (its modules make their loggers)

    limit = limit or RepeatLimit()
    names = [*LIMITED_LOGGERS, *logging.Logger.manager.loggerDict]
    for name in names:
        if name.startswith(LIMITED_LOGGERS):
            logger = logging.getLogger(name)
            if limit not in logger.filters:
                logger.addFilter(limit)
    return limit
