"""Validation of many messages that arrived together (a batch): :class:`Validator`.

The same answer as :func:`spur_schemas.validate.validate` for every message,
for less: the limits' bounds are computed once per batch, and an event whose
times lie well inside them (nearly all) skips the detailed time check, which
runs only to word a rejection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from operator import attrgetter
from typing import Generic

from spur_schemas.rejections import Rejection
from spur_schemas.validate import (
    LONG_FRACTION,
    TIME_FIELDS,
    E,
    TimeLimits,
    check_rules,
    check_times,
    decode_struct,
    retention_margin,
)


class Validator(Generic[E]):
    """``validate(raw, kind, arrival, limits)`` as a call per message: ``Validator(...)(raw)``."""

    def __init__(
        self,
        kind: type[E],
        arrival: dt.datetime,
        limits: TimeLimits,
        *,
        long_fractions: bool = True,
    ) -> None:
        """``long_fractions=False``: no message holds a fraction of more than six
        digits (the batch was searched at once, ``any_long_fraction``)."""
        self._kind = kind
        self._long_fractions = long_fractions
        self._arrival = arrival
        self._limits = limits
        self._latest = arrival + limits.clock_skew
        self._earliest = (
            None
            if limits.retention is None
            else arrival - limits.retention + retention_margin(kind)
        )
        # The first is the time the table's TTL counts from (TIME_FIELDS).
        self._times = tuple(attrgetter(name) for name in TIME_FIELDS[kind])

    def __call__(self, raw: bytes) -> E | Rejection:
        event = decode_struct(raw, self._kind, long_fractions=self._long_fractions)
        if isinstance(event, Rejection):
            return event
        if not self._within_limits(event):
            rejection = check_times(event, self._arrival, self._limits)
            if rejection is not None:
                return rejection
        return check_rules(event)

    def _within_limits(self, event: E) -> bool:
        """Whether check_times surely finds nothing: no time after ``arrival + clock_skew``,
        the first not before ``arrival - retention`` (an action's: an hour later, its
        hour's start counts). False sends the event to check_times itself."""
        if self._earliest is not None and self._times[0](event) < self._earliest:
            return False
        latest = self._latest
        # A loop, not all() over a generator: half the cost for one or two times.
        for time_of in self._times:  # noqa: SIM110
            if time_of(event) > latest:
                return False
        return True


def any_long_fraction(raws: Sequence[bytes]) -> bool:
    """Whether any of ``raws`` holds a fraction of more than six digits, or a
    backslash (an escaped character may hide one).

    Searched a thousand messages at a time (a match cannot span the newline
    between two): about 0.2 µs a message, against 0.5 searching each alone.
    A value that is no bytes answers True (each message is then searched alone).
    """
    for start in range(0, len(raws), 1000):
        try:
            joined = b"\n".join(raws[start : start + 1000])
        except TypeError:
            return True
        if LONG_FRACTION.search(joined) or b"\\" in joined:  # escapes: see decode_struct
            return True
    return False
