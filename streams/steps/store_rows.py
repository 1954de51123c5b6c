"""Step ``store``: raw rows and dead letters, written to a :class:`RawEventsSink`.

Input: events that passed validation, erasure and privacy (each stream's
own type), or dead letters.
Output: nothing; the rows are in the store when a call returns. Dead letters
are counted per topic and reason (``REJECTED``).
Guarantees: an empty batch writes nothing. Raw rows are idempotent (a replay's
rows collapse in the tables' ReplacingMergeTree), so storing them again after
a crash is harmless. For actions, raw rows are stored before the fold (step
windows): an id is never indexed before its row is stored.
Failure: blocks while the store is down, retrying inside (spur_sinks.writer);
returns only once the store accepted the rows, never skips them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.located import Located
from spur_schemas.messages import DeadLetter
from spur_schemas.metrics import REJECTED, Metrics

# Some actions' rows as a sink builds them for its insert (its column lists;
# an in-memory sink's: the items): opaque to the steps, which build them a
# slice of a batch at a time (spur_streams.steps.decide) and store them together.
Rows = Any


class RawEventsSink(Protocol):
    """Where raw rows go, one table per stream (spur_sinks.raw_events). Blocks, retries inside."""

    def action_rows(self, items: Sequence[Located[Action]]) -> Rows:
        """The ``actions`` rows of ``items`` (pure, no store call)."""

    def store_actions(self, rows: Sequence[Rows]) -> None:
        """One insert of every row of ``rows`` (built by :meth:`action_rows`), in order."""

    def store_web(self, events: Sequence[WebRequest]) -> None: ...

    def store_forms(self, events: Sequence[FormSubmission]) -> None: ...

    def store_consent(self, events: Sequence[Consent]) -> None: ...

    def store_dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...


def store_dead_letters(
    sink: RawEventsSink, letters: Sequence[DeadLetter], metrics: Metrics
) -> None:
    for letter in letters:
        metrics.inc(REJECTED, topic=letter.topic, reason=letter.reason)
    sink.store_dead_letters(letters)
