"""Time-ordered UUIDs (version 7, RFC 9562) for the ids spur's clients mint.

Layout of an id: 48 bits of Unix milliseconds, the version, 12 zero bits
(RFC 9562's ``rand_a``), the variant, and 62 bits of a counter that each
minter seeds at random once and then increments (the "monotonic random" of
RFC 9562 §6.2, method 2, never re-seeded): a minter's ids keep their order
within a millisecond by the counter alone.

Why zeros rather than the sub-millisecond clock (method 3): the store keeps
an action id as its distance from the action's start in milliseconds
(migration 0011), which is nothing for an id minted at the start, but 12
random-looking bits of a fraction cost 1.5 B per stored action (measured).

Why a counter instead of fresh random bits per id: 74 random bits cannot be
stored in fewer than 9.3 bytes, and an id is most of an ``actions`` row.
Ids from one process share their seed, so ClickHouse compresses them to a
fraction of that (``bench.storage`` measures it). Still canonical UUIDs, still
unique: a minter never repeats its counter, and two minters collide only if
their 62-bit ranges overlap within the same millisecond. A forked child
re-seeds (pre-forking app servers would otherwise share a counter).
Action ids are identifiers, not secrets: that they are guessable is fine.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
import threading
import time
import uuid

_COUNTER_BITS = 62
_COUNTER_MASK = (1 << _COUNTER_BITS) - 1


class IdMinter:
    """Mints version-7 UUIDs; thread-safe."""

    def __init__(self, seed: int | None = None) -> None:
        # Also on free-threaded builds, where itertools.count alone is not atomic.
        self._lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int | None = None) -> None:
        start = secrets.randbits(_COUNTER_BITS) if seed is None else seed & _COUNTER_MASK
        self._counter = itertools.count(start)

    def mint(self, at: dt.datetime | None = None) -> uuid.UUID:
        """An id for ``at`` (default: now)."""
        millis = (time.time_ns() if at is None else _nanos(at)) // 1_000_000
        with self._lock:
            counter = next(self._counter) & _COUNTER_MASK
        value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76
        return uuid.UUID(int=value | 0b10 << 62 | counter)


def _nanos(at: dt.datetime) -> int:
    return (at - _EPOCH) // dt.timedelta(microseconds=1) * 1000


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_PROCESS = IdMinter()
os.register_at_fork(after_in_child=_PROCESS.reseed)


def uuid7(at: dt.datetime | None = None) -> uuid.UUID:
    """A version-7 UUID for ``at`` (default now) from this process's minter."""
    return _PROCESS.mint(at)
