"""A Faust agent that does nothing with its batches: the framework's own ceiling.

Run by bench.worker as ``python -m faust -A bench.faust_null worker`` with
``SPUR_KAFKA_*`` set (address and login, as for ``spur worker``). It reads
``spur.actions.v1`` the way an agent would (``take_events`` batches of up to
20,000 within 0.2 s) and does no work, so its rate is the most any
Faust-agent pipeline could reach here. This figure is why spur reads actions
with a batch consumer instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any, cast

import faust

from bench.baselines import FAUST_NULL_GROUP
from spur.broker import kafka_target
from spur.settings import load_settings
from spur.worker.app import faust_credentials
from spur_schemas.topics import Topic

TARGET = kafka_target(load_settings())

app = faust.App(
    FAUST_NULL_GROUP,
    broker=f"kafka://{TARGET.bootstrap}",
    broker_credentials=faust_credentials(TARGET),
    value_serializer="raw",
    key_serializer="raw",
    consumer_auto_offset_reset="earliest",
    stream_buffer_maxsize=131_072,
    web_enabled=False,
    datadir=os.environ.get("FAUST_NULL_DATADIR", tempfile.gettempdir() + "/spur-faust-null"),
)
actions = app.topic(Topic.ACTIONS.value, key_type=bytes, value_type=bytes)


@app.agent(actions)
async def discard(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    concrete = cast(faust.Stream[Any], stream)
    async for _events in concrete.take_events(20_000, within=0.2):
        yield None
