"""The Faust app: topics and agents wired to the pure steps and the sink.

The agents are thin: each batch from ``take_events`` goes through a pure
function (``streams.batch``), the valid rows into the store
(``sinks.writer``), the rejects to ``spur.deadletter.v1``.

Offsets: ``take_events`` acknowledges a batch's messages only when the agent
asks for the next batch, i.e. after the insert returned and the dead letters
were delivered; Faust commits acknowledged offsets every
``commit_interval_seconds``. A crash before that replays the batch; the
``actions`` table collapses the replayed rows (ReplacingMergeTree on the
action's key), so replays never double-count.

Blocking: an insert blocks its agent (in a thread) until it succeeds; that
stalls consumption of the partitions the agent reads, which is the
backpressure when the store is down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
import msgspec

from sinks.actions import action_columns
from sinks.store import Store
from sinks.writer import insert_until_done
from spur.settings import Settings
from spur.topics import Topic
from streams.batch import Message, split_actions

log = logging.getLogger(__name__)


def create_app(settings: Settings, bootstrap: str, store: Store) -> faust.App:
    """A Faust app consuming spur's input topics into ``store``."""
    settings.faust_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.consumer_group,
        broker=";".join(f"kafka://{host}" for host in bootstrap.split(",")),
        datadir=str(settings.faust_dir),
        value_serializer="raw",
        key_serializer="raw",
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=settings.stream_buffer_maxsize,
        broker_commit_interval=settings.commit_interval_seconds,
        producer_compression_type="lz4",
        producer_linger_ms=10,
        web_enabled=False,
    )
    actions = app.topic(Topic.ACTIONS.value, key_type=bytes, value_type=bytes)
    deadletters = app.topic(Topic.DEADLETTER.value, key_type=bytes, value_type=bytes)

    @app.agent(actions)
    async def ingest_actions(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        # Agents receive a concrete Stream; take_events is not on the StreamT protocol.
        concrete = cast(faust.Stream[bytes], stream)
        batches = concrete.take_events(settings.batch_size, within=settings.batch_seconds)
        async for events in batches:
            messages = [_message(event) for event in events]
            result = split_actions(messages, now=dt.datetime.now(dt.UTC))
            if result.accepted:
                await insert_until_done(
                    store,
                    "actions",
                    action_columns(result.accepted),
                    max_backoff_seconds=settings.insert_retry_max_seconds,
                )
            if result.rejected:
                sent = [
                    await deadletters.send(
                        key=letter.reason.encode(), value=msgspec.json.encode(letter)
                    )
                    for letter in result.rejected
                ]
                await asyncio.gather(*sent)
                log.info("dead-lettered %d of %d actions", len(result.rejected), len(events))
            yield None

    return app


def _message(event: Any) -> Message:
    message = event.message
    return Message(message.topic, message.partition, message.offset, message.value or b"")
