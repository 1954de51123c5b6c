"""The Kafka library's repeated complaints, logged once per interval with a count.

While the broker is down, aiokafka retries its fetches and metadata requests
without backing off (aio-libs/aiokafka#496) and logs each failure: 150-220
lines a second from an idle worker, thousands under load (11.8 MB in an 18 s
outage, measured from outside). Each distinct message (its text: another
error, node, group or partition is another message) is logged at once, so a
new problem shows as soon as it starts; the same text again within
:data:`EVERY_SECONDS` is held back and counted, and the next one let through
says how many were and when (the span may lie in an earlier outage: the
count is reported by the next such line, whenever it comes).

Blocking: nothing. Raises nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

EVERY_SECONDS = 10.0
LIMITED_LOGGERS = ("aiokafka", "faust.transport")  # and every logger below them
_KNOWN_MESSAGES = 1_000  # distinct texts; forgotten all at once beyond


class RepeatLimit(logging.Filter):
    """Each (logger, level, text) through at most once per ``every`` seconds."""

    def __init__(self, every: float = EVERY_SECONDS, clock: Callable[[], float] = time.time):
        super().__init__()
        self.every = every
        self.clock = clock
        self._seen: dict[tuple[str, int, str], _Held] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # arguments that do not fit: logging reports it when it emits
            return True
        key = (record.name, record.levelno, text)
        now = self.clock()
        held = self._seen.get(key)
        if held is not None and now - held.let_through < self.every:
            if not held.count:
                held.first = now
            held.count += 1
            held.last = now
            return False
        if len(self._seen) >= _KNOWN_MESSAGES:
            self._seen.clear()
        self._seen[key] = _Held(let_through=now)
        if held is not None and held.count:
            # The text is final: no handler may format it again.
            record.msg = f"{text} [{held.count} more like this {_span(held.first, held.last)}]"
            record.args = ()  # a tuple: Faust's formatter maps over the arguments
        return True


@dataclass
class _Held:
    let_through: float  # when the text was last logged
    count: int = 0  # held back since
    first: float = 0.0  # when the first and the last of those came
    last: float = 0.0


def _span(first: float, last: float) -> str:
    at = [dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M:%S") for t in (first, last)]
    return f"at {at[0]} UTC" if at[0] == at[1] else f"from {at[0]} to {at[1]} UTC"


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
