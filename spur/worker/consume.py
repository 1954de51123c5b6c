"""The actions hot path: a batch consumer that runs inside the Faust app.

Why not a Faust agent: Faust hands a stream its messages one at a time,
through a queue, an event object and several awaits each. Measured on the
2-core reference machine, an agent that does nothing with its batches tops
out at ~13,000 messages/s, while the pipeline's batch step does ~45,000
actions/s. Here aiokafka's ``getmany`` hands over up to ``batch_size``
fetched messages at once; web, forms and consent (low volume) stay agents.

Offsets: a batch's offsets are committed after its rows are stored and its
outputs acknowledged by the broker (docs/design.md#the-store-protocol); a
crash replays the batch, which every step tolerates. Offsets that are never
messages (transactions' markers, aborted records) are committed past when the
consumer is idle (spur.worker.markers).

Rebalances: when partitions are revoked, the consumer first lets every batch
in flight finish and commit; records fetched meanwhile are dropped
unprocessed (the next owner reads them from the committed offset; if that
is this consumer, it reads them again from where it dropped them);
reassigned partitions' cached state is forgotten before any new batch
starts. Why: docs/design.md#rebalances.

Consumer group: actions are consumed under ``consumer_group`` itself; the
Faust agents use a group of their own (:func:`spur_schemas.topics.consumer_group_of`)
because members with different assignment protocols cannot share one.

Blocking: a batch blocks this consumer until the store accepted it
(retrying); consumption of actions stalls meanwhile: the backpressure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from spur.client.kafka import KafkaTarget
from spur.settings import Settings
from spur.worker.fetching import Fetched, dropped, fetched_batch
from spur.worker.markers import CommittedEnds, nothing_in_flight
from spur.worker.rebalance_gate import RebalanceGate
from spur_schemas.messages import CapacityMessage
from spur_schemas.topics import Topic, consumer_group_of
from spur_streams.batch import ActionsOutcome, Batch, Message, Prepared, Recorded
from spur_streams.steps.commit import complete_then_commit
from spur_streams.steps.publish import Publisher

T = TypeVar("T")

# A batch retries a store outage for as long as it lasts; the group must not
# declare the consumer dead meanwhile (Faust's own default is 1,000 s).
MAX_POLL_INTERVAL_MS = 1_000_000


def actions_consumer(settings: Settings, target: KafkaTarget) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **target.client_kwargs(),
        group_id=consumer_group_of(Topic.ACTIONS, settings.broker.consumer_group),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # A producer's aborted transaction never happened: its actions are not
        # billed (found from outside: read_uncommitted, aiokafka's default, billed them).
        isolation_level="read_committed",
        # Prefetched records wait in memory: 4 MiB per partition fill a batch
        # (~9,000 actions each) at 236 MB peak anonymous RSS; 8 MiB took 269 MB.
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        session_timeout_ms=int(settings.worker.session_timeout_seconds * 1000),
        # A member that joins (a second process, a restarted worker) waits until the
        # others heard of it at their next heartbeat: 1 s, not 3 s.
        heartbeat_interval_ms=int(min(1.0, settings.worker.session_timeout_seconds / 3) * 1000),
        max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        # How long the group waits for this member to rejoin a rebalance: as long as
        # a batch may take. The revoke waits for the batches in flight; aiokafka's
        # default is the session timeout (10 s), after which the group gave the
        # partitions to another member while a batch waited on a stalled store,
        # and both folded it (measured with the store stopped 12-16 s and a member
        # killed meanwhile: billed over; tests/faults/test_stalled_store_rebalance.py).
        rebalance_timeout_ms=MAX_POLL_INTERVAL_MS,
    )


def batch_handlers(
    batch: Batch, outputs: Publisher
) -> tuple[
    Callable[[Sequence[Message]], Awaitable[Prepared]],
    Callable[[Prepared], Awaitable[Recorded]],
    Callable[[Recorded], Coroutine[Any, Any, None]],
]:
    """``prepare``, ``process`` and ``complete`` for :func:`consume_actions` over
    ``batch``'s steps.

    ``prepare`` decodes and validates a batch (pure: it may run while the
    batch before is processed); ``process`` stores and folds it (the steps
    that must see the batch before them); ``complete`` finishes it (hours
    rewritten, dead letters), refreshes its capacity minutes and publishes,
    while the next batch is in ``process``: both use the store, on the two cores.
    """

    async def prepare(messages: Sequence[Message]) -> Prepared:
        return await asyncio.to_thread(batch.actions.prepare, messages, dt.datetime.now(dt.UTC))

    async def process(prepared: Prepared) -> Recorded:
        return await asyncio.to_thread(batch.actions.record, prepared)

    def finish(recorded: Recorded) -> tuple[ActionsOutcome, list[CapacityMessage]]:
        outcome = batch.actions.finish(recorded)
        # Capacity windows of the batch's minutes are refreshed before its
        # offsets are committed, so a crash cannot leave them stale.
        return outcome, batch.actions.refresh_capacity(outcome.capacity)

    async def complete(recorded: Recorded) -> None:
        outcome, minutes = await asyncio.to_thread(finish, recorded)
        await batch.actions.publish(outputs, outcome, minutes)

    return prepare, process, complete


async def consume_actions(
    consumer: AIOKafkaConsumer,
    settings: Settings,
    process: Callable[[Any], Awaitable[T]],
    complete: Callable[[T], Coroutine[Any, Any, None]],
    *,
    assign: Callable[[Iterable[int]], None],
    revoke: Callable[[Iterable[int]], None] | None = None,
    prepare: Callable[[Sequence[Message]], Awaitable[Any]] | None = None,
) -> None:
    """Feed batches of actions to ``prepare``, ``process`` then ``complete``, until cancelled.

    ``process`` is given what ``prepare`` made of a batch's messages (the
    messages themselves without ``prepare``). ``assign`` is told which
    partitions (re)joined this consumer: another worker may have written
    their state meanwhile; ``revoke`` which left it, once no batch is in flight.

    A batch's offsets are committed once ``complete`` (for the actions path:
    hours rewritten, dead letters, capacity minutes, publishing; see
    :func:`batch_handlers`) finished for it. That tail runs while the next
    batch is fetched and processed. Batches go through ``process`` one at a
    time and in order, tails one at a time and in order, and commits happen
    in order.

    Read ahead (``SPUR_READ_AHEAD``, off by default: two batches' events in
    memory): while a full batch (``batch_size`` messages: a backlog) is in
    ``process``, the next one is fetched and prepared (``prepare`` is pure:
    decoding and validating), so the Python of one overlaps the store calls
    of the other. A batch fetched across a rebalance is dropped and its
    partitions still held read again (:func:`read_again`), prepared or not.
    A batch that is not full is fetched after ``process`` returned, as it
    arrives (read ahead, it would leave later arrivals a batch longer).
    """
    gate = RebalanceGate(assign, revoke)
    committer = CommittedEnds(consumer)
    consumer.subscribe([Topic.ACTIONS.value], listener=gate)
    completing: asyncio.Task[None] | None = None  # the previous batch's tail and commit
    ahead: asyncio.Task[Fetched] | None = None  # the next batch, read during this one
    try:
        await consumer.start()
        while True:
            if completing is not None and completing.done():
                completing.result()  # a failed batch stops the consumer (it is replayed)
            fetched = await (ahead or fetched_batch(consumer, settings, gate))
            ahead = None
            if gate.rebalancing or gate.rebalances != fetched.rebalances or not fetched.messages:
                await dropped(consumer, settings, gate, fetched)
                idle = not fetched.messages and gate.rebalances == fetched.rebalances
                if idle and not gate.rebalancing and nothing_in_flight(completing, gate.in_flight):
                    await committer.commit_skipped(gate.rebalances)
                continue
            messages, prepared = fetched.messages, fetched.prepared
            ends = {
                tp: records[-1].offset + 1 for tp, records in fetched.records.items() if records
            }
            # The records are not needed past the batch step: let them go before the
            # next batch is fetched (about a kilobyte per message).
            del fetched
            gate.batch_started()
            try:
                if prepared is None:
                    prepared = messages if prepare is None else await prepare(messages)
                if settings.worker.read_ahead and len(messages) >= settings.worker.batch_size:
                    ahead = asyncio.create_task(fetched_batch(consumer, settings, gate, prepare))
                outcome = await process(prepared)
            except BaseException:
                gate.batch_ended()
                raise
            del messages, prepared
            if completing is not None:
                await completing  # the previous batch's tail; raises if it failed
            completing = asyncio.create_task(
                _complete_then_commit(committer, complete, outcome, ends=ends, gate=gate)
            )
    finally:
        tasks = [task for task in (completing, ahead) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await consumer.stop()


async def _complete_then_commit(
    committer: CommittedEnds,
    complete: Callable[[T], Coroutine[Any, Any, None]],
    outcome: T,
    *,
    ends: dict[TopicPartition, int],
    gate: RebalanceGate,
) -> None:
    # Committed as soon as the tail is done, not when the next batch is: a
    # next batch stuck in a store outage must not hold this one's offsets.
    try:
        await complete_then_commit(complete(outcome), committer, ends)
    finally:
        gate.batch_ended()
