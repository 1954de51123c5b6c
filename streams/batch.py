"""The worker's batch: its steps in order, written once (spur_streams.steps).

Actions, :meth:`ActionsBatch.process` (blocking: the worker runs it in a
thread, as :meth:`ActionsBatch.prepare`, :meth:`ActionsBatch.record` and
:meth:`ActionsBatch.finish`, the last overlapping the next batch's first
two), then :meth:`ActionsBatch.publish` (async), then the consumer's commit:

1. validate: rejects become dead letters (pure, no store call);
2. reads: the tombstones, the dedup index and the consent ledger, at once
   (spur_streams.steps.reads); erasure: drop erased customers' actions;
   route: an action not on its id's canonical partition is set aside, to be
   re-published there (the owner of that partition decides all its copies);
3. dedup: classify by action id and content hash (never by Kafka offset):
   new, duplicate (counted already), conflicting (a dead letter);
4. lateness: measured against the partition's newest event time (a metric),
   on the partition an action was first published to;
5. privacy: IP policy, consent for profiles, on the new actions;
6. store: the new actions' raw rows (without erased logins');
7. windows: ONE fold statement indexes the new ids and adds them to their
   hours and minutes (``record`` ends here); then every hour the accepted
   actions (new and duplicates) touch is read back by exact key and
   rewritten;
8. store: the dead letters; erasure: delete again what raced a fresh erasure;
9. complete: refresh the touched capacity minutes, then publish the
   detours, window states and dead letters and wait for the broker's
   acknowledgements; then, where other workers hold partitions too, read
   the published windows again and publish those another worker folded
   into meanwhile once more, so the last message per window key is its
   newest state;
10. commit: the batch's offsets, only after all of the above
    (:func:`spur_streams.steps.commit.complete_then_commit`).

Guarantees: every accepted action is counted once in its hour and its
minute, whatever the order, lateness, crash or replay point, because an id
is indexed by the same statement that folds it (step 7) and every step is
idempotent; the argument is docs/design.md#why-billing-totals-are-exact,
the order of writes and commit docs/design.md#the-store-protocol.

Web requests, forms and consent take :class:`spur_streams.steps.raw_events.RawEvents`.
Blocking: store calls block and are retried inside the sinks until they
succeed (or the worker stops: ``stopping``); raises nothing for bad input.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.messages import CapacityMessage, DeadLetter
from spur_schemas.metrics import ERASED_DROPPED, EVENTS_IN, Metrics
from spur_schemas.topics import Topic
from spur_schemas.validate import TimeLimits
from spur_streams.privacy import IpPolicy
from spur_streams.stages import ActionsOutcome, Prepared, Recorded
from spur_streams.steps.clock import StepClock
from spur_streams.steps.decide import DecideRules, RowBuilders, decide
from spur_streams.steps.dedup import DedupIndex
from spur_streams.steps.erased_detours import DETOUR_CHUNK, after_erasures, judged_again
from spur_streams.steps.erasure import (
    ErasureLog,
    delete_what_raced,
    without_erased_letters,
)
from spur_streams.steps.lateness import Lateness
from spur_streams.steps.privacy import ConsentSource
from spur_streams.steps.publish import (
    Publisher,
    publish_dead_letters,
    publish_detours,
    publish_windows,
)
from spur_streams.steps.raw_events import RawEvents
from spur_streams.steps.reads import read_at_once
from spur_streams.steps.route import (
    ConsentRoute,
    Detour,
    raced_erasure,
    route_consent,
)
from spur_streams.steps.store_rows import RawEventsSink, store_dead_letters
from spur_streams.steps.validate import Message, Split, reject, split
from spur_streams.steps.windows import (
    CapacityStore,
    WindowStore,
    fold,
    newer_states,
    refresh_capacity,
    rewrite,
)
from spur_streams.usage import CapacityKey

__all__ = [
    "ActionsBatch", "ActionsOutcome", "Batch", "Message", "Prepared", "Recorded", "Split",
    "reject", "split",
]  # fmt: skip


@dataclass
class ActionsBatch:
    """The actions path: steps 1-9 above, over the interfaces it is given."""

    limits: TimeLimits
    ip_policy: IpPolicy
    erasure: ErasureLog
    index: DedupIndex
    consent: ConsentSource
    sink: RawEventsSink
    windows: WindowStore
    capacity: CapacityStore
    lateness: Lateness
    metrics: Metrics
    # The actions topic's partition count: actions are routed to their id's
    # partition. None: no routing, the caller feeds every copy of an id to this
    # one batch (tests of the later steps, one process over one store).
    partitions: int | None = None
    # The actions partitions this worker holds (Batch.assign / revoke).
    owned: set[int] = field(default_factory=set)

    def process(self, messages: Sequence[Message], now: dt.datetime) -> ActionsOutcome:
        """Steps 1-8 of a batch, in order."""
        return self.finish(self.record(self.prepare(messages, now)))

    def prepare(self, messages: Sequence[Message], now: dt.datetime) -> Prepared:
        """Step 1 alone: pure, no store call."""
        clock = StepClock(self.metrics, Topic.ACTIONS)
        valid = split(messages, Action, now, self.limits)
        return Prepared(messages, now, valid, clock.lap("validate"))

    def record(self, prepared: Prepared) -> Recorded:
        """Steps 2-7's fold: after it the batch's new actions are stored and counted.

        Batches must come here one at a time and in their order: the next
        batch's dedup must see this one's folds. :meth:`finish` may run
        while the next batch is here (the worker overlaps them).
        """
        messages, now, valid = prepared.messages, prepared.now, prepared.valid
        clock = StepClock(self.metrics, Topic.ACTIONS)
        reads = read_at_once(valid.accepted, self.erasure, self.index, self.consent)
        clock.lap("reads")
        erased = reads.erased
        rules = DecideRules(self.partitions, self.ip_policy, self.lateness, self.metrics)
        builders = RowBuilders(self.sink, self.windows)
        decided = decide(valid.accepted, reads, messages, now, rules=rules, builders=builders)
        clock.carry(decided.seconds)  # its rows and windows: the steps below
        clock.lap("route_dedup_privacy")
        self.sink.store_actions(decided.raw_rows)
        decided.raw_rows = []  # let go before the fold's rows are encoded (peak memory)
        clock.lap("store_raw")
        # After the raw rows: an id is never indexed before its row is stored.
        fold(self.windows, decided.fold_rows)
        decided.fold_rows = []
        clock.lap("fold")
        clock.lap("windows_touched")
        rejected = valid.rejected + decided.conflicts
        seconds = prepared.seconds + clock.elapsed()
        return Recorded(
            now,
            erased,
            decided.hours,
            decided.minutes,
            decided.subjects,
            rejected,
            decided.detours,
            len(messages),
            seconds,
        )

    def finish(self, recorded: Recorded) -> ActionsOutcome:
        """Steps 7's rewrite and 8 of a recorded batch: what may overlap the next batch."""
        clock = StepClock(self.metrics, Topic.ACTIONS)
        erased = recorded.erased
        usage = rewrite(self.windows, recorded.hours, recorded.now, self.metrics)
        clock.lap("rewrite")
        letters = without_erased_letters(recorded.rejected, erased, self.metrics)
        store_dead_letters(self.sink, letters, self.metrics)
        delete_what_raced(self.erasure, erased, recorded.subjects)
        self.metrics.inc(EVENTS_IN, recorded.messages, topic=Topic.ACTIONS)
        clock.lap("dead_letters_erasure")
        clock.done(recorded.seconds)
        return ActionsOutcome(usage, letters, recorded.minutes, recorded.detours, erased)

    def refresh_capacity(self, keys: Iterable[CapacityKey]) -> list[CapacityMessage]:
        """Step 9's blocking half (the worker runs it in a thread)."""
        return refresh_capacity(self.capacity, keys, self.metrics)

    async def publish(
        self, publisher: Publisher, outcome: ActionsOutcome, capacity: Sequence[CapacityMessage]
    ) -> None:
        """Step 9's other half: capacity minutes were refreshed before the
        offsets are committed, so a crash cannot leave them stale.

        Then, unless this worker holds every partition, the windows are read
        once more: another worker may have folded into one of them and
        published its newer state before ours was acknowledged. Whoever wrote
        a window's last fold publishes its final state after that fold; any
        message appended after that one is checked here after its
        acknowledgement, so the newest state comes last.
        """
        await self._publish_detours(publisher, outcome)
        await publish_windows(publisher, outcome.usage, capacity)
        await publish_dead_letters(publisher, outcome.dead_letters)
        if self._sole_owner():
            return
        usage, minutes = await asyncio.to_thread(
            newer_states, self.windows, self.capacity, outcome.usage, capacity, self.metrics
        )
        await publish_windows(publisher, usage, minutes)

    async def _publish_detours(self, publisher: Publisher, outcome: ActionsOutcome) -> None:
        """The batch's detours, a chunk at a time, each judged again if an erasure was
        recorded since the batch read them (spur_streams.steps.erased_detours): an
        erasure can miss only the chunk being sent (found from outside: sending all
        of a batch's copies took up to a second)."""
        detours = outcome.detours
        for start in range(0, len(detours), DETOUR_CHUNK):
            chunk = detours[start : start + DETOUR_CHUNK]
            if any(judged_again(detour) for detour in chunk):
                erased = await asyncio.to_thread(self.erasure.read)
                if not erased.ids <= outcome.erased.ids:  # else judged by these already
                    chunk, dropped = after_erasures(chunk, erased)
                    self.metrics.inc(ERASED_DROPPED, dropped)
            await publish_detours(publisher, chunk)

    def _sole_owner(self) -> bool:
        """Whether this worker holds every actions partition: then no other folds.

        A partition moves only after its batches in flight completed (eager
        rebalances revoke every partition first), so holding them all when
        the batch was read means nobody else folded while it ran. Without
        routing (``partitions`` None) the caller's setting is unknown: no.
        """
        return self.partitions is not None and len(self.owned) >= self.partitions


@dataclass
class Batch:
    """Every input path of a worker, and the state they share."""

    actions: ActionsBatch
    web: RawEvents[WebRequest]
    forms: RawEvents[FormSubmission]
    consent: RawEvents[Consent]
    # Set when the worker stops: store retries give up (the batch stays unacknowledged).
    stopping: threading.Event

    def process_actions(self, messages: Sequence[Message], now: dt.datetime) -> ActionsOutcome:
        return self.actions.process(messages, now)

    def record_actions(self, messages: Sequence[Message], now: dt.datetime) -> Recorded:
        return self.actions.record(self.actions.prepare(messages, now))

    def process_web(self, messages: Sequence[Message], now: dt.datetime) -> list[DeadLetter]:
        return self.web.process(messages, now)

    def process_forms(self, messages: Sequence[Message], now: dt.datetime) -> list[DeadLetter]:
        return self.forms.process(messages, now)

    def process_consent(self, messages: Sequence[Message], now: dt.datetime) -> list[DeadLetter]:
        return self.consent.process(messages, now)

    def route_consent(
        self, messages: Sequence[Message], now: dt.datetime, partitions: int
    ) -> ConsentRoute:
        """Consent decisions not under their login's key and partition: re-routed, not stored here.

        Decisions of a subject erased after them are not re-published (they
        would outlive the erasure's tombstones); their originals are dropped.
        """
        erased = self.consent.erased()
        limits, metrics = self.consent.limits, self.consent.metrics
        return route_consent(messages, limits, erased, now, partitions=partitions, metrics=metrics)

    def consent_raced(self, route: ConsentRoute) -> list[Detour]:
        """Tombstones for ``route``'s detours whose subject an erasure caught meanwhile."""
        erased = self.consent.erased()
        return raced_erasure(route, erased)

    def assign(self, partitions: Iterable[int]) -> None:
        """Actions partitions (re)joining this worker: its whole new assignment."""
        assigned = set(partitions)
        self.actions.lateness.assign(assigned)
        self.actions.owned = assigned

    def revoke(self, partitions: Iterable[int]) -> None:
        """Actions partitions leaving this worker."""
        revoked = set(partitions)
        self.actions.lateness.revoke(revoked)
        self.actions.owned -= revoked
