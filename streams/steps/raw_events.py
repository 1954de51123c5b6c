"""Step ``raw_events``: the one path of web requests, forms and consent.

Input: a batch of raw messages of one of those topics and their arrival.
Steps: validate (as the path's event type, with its time limits) -> keep
(the path's privacy rule, or for consent its erasure filter) -> store the
rows (one insert) -> for consent, delete again what raced a fresh erasure
-> store the dead letters -> count ``EVENTS_IN``.
Output: the batch's dead letters, to publish (step publish).
Guarantees: what :mod:`spur_streams.steps.validate`, :mod:`~spur_streams.steps.privacy`,
:mod:`~spur_streams.steps.erasure` and :mod:`~spur_streams.steps.store_rows` guarantee.
On the consent path, an empty value is a tombstone of the compacted ledger
(``spur erase`` writes them): the end of a login's entries, skipped, not a
malformed event; and tombstones are read first, so an erased subject's
decisions and rejects are never stored again.
Failure: bad input never raises; store calls block and retry inside.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.located import Located
from spur_schemas.messages import DeadLetter
from spur_schemas.metrics import EVENTS_IN, Metrics
from spur_schemas.topics import Topic
from spur_schemas.validate import TimeLimits
from spur_streams.steps.erasure import (
    NO_TOMBSTONES,
    ErasureLog,
    Tombstones,
    delete_what_raced,
    subjects_of,
    without_erased_letters,
)
from spur_streams.steps.store_rows import RawEventsSink, store_dead_letters
from spur_streams.steps.validate import Message, split

E = TypeVar("E", Action, WebRequest, FormSubmission, Consent)


@dataclass(frozen=True)
class RawEvents(Generic[E]):
    """One topic's path. ``keep`` turns its valid events into the rows to store."""

    topic: Topic
    kind: type[E]
    limits: TimeLimits
    keep: Callable[[list[Located[E]], Tombstones], Sequence[E]]
    write: Callable[[Sequence[E]], None]
    sink: RawEventsSink
    metrics: Metrics
    erasure: ErasureLog | None = None  # read before the batch: consent only
    skip_empty: bool = False  # empty values are the compacted ledger's tombstones
    # After the write: subjects erased while the batch ran lose its rows again.
    after_write: Callable[[list[Located[E]], Tombstones], None] | None = None

    def erased(self) -> Tombstones:
        """The erasures as the store holds them now (none on a path without a log)."""
        return self.erasure.read() if self.erasure is not None else NO_TOMBSTONES

    def process(self, messages: Sequence[Message], now: dt.datetime) -> list[DeadLetter]:
        events = [m for m in messages if m.value] if self.skip_empty else messages
        erased = self.erased()
        valid = split(events, self.kind, now, self.limits)
        self.write(self.keep(valid.accepted, erased))
        if self.after_write is not None:
            self.after_write(valid.accepted, erased)
        letters = without_erased_letters(valid.rejected, erased, self.metrics)
        store_dead_letters(self.sink, letters, self.metrics)
        self.metrics.inc(EVENTS_IN, len(messages), topic=self.topic)
        return letters


def consent_raced(log: ErasureLog) -> Callable[[list[Located[Consent]], Tombstones], None]:
    """The consent path's ``after_write``: an erasure that ran while the batch was
    written finds the rows gone already; the batch deletes its subjects' rows again."""

    def delete_again(items: list[Located[Consent]], before: Tombstones) -> None:
        delete_what_raced(log, before, subjects_of(items))

    return delete_again


def consent_kept(items: list[Located[Consent]], erased: Tombstones) -> list[Consent]:
    """Consent decisions not of a subject erased after they were made."""
    return [
        item.event
        for item in items
        if not erased.customer_erased_before(item.event.customer_id, item.event.ts)
        and not erased.login_erased_before(item.event.login, item.event.ts)
    ]
