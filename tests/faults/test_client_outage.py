"""The client loses nothing when the broker is down: it spools and re-sends."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import msgspec
import pytest
from prometheus_client import REGISTRY

from spur.client import SyncTelemetry, Telemetry
from spur.client.kafka import KafkaTarget
from spur.dev.broker import LocalBroker
from spur.processes import free_port
from spur.settings import Settings
from spur.topics import ensure_topics, topic_specs
from spur_schemas.topics import Topic
from tests.topic_contents import read_records, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.faults]


class _Id(msgspec.Struct):
    action_id: str


async def stored_action_ids(bootstrap: KafkaTarget) -> set[str]:
    decoder = msgspec.json.Decoder(_Id)
    return {decoder.decode(v).action_id for v in await read_topic(bootstrap, Topic.ACTIONS)}


async def emit(telemetry: Telemetry, count: int, customer_id: int) -> list[str]:
    ids = []
    for n in range(count):
        async with telemetry.action(
            "document.open", customer_id=customer_id, login="ann",
            session_id=f"s{customer_id}", client_ip="10.0.0.1",
        ) as action:  # fmt: skip
            action.bytes_out = n
        ids.append(str(action.action_id))
        if n % 100 == 99:
            await asyncio.sleep(0)  # an app server serves requests in between
    return ids


async def outage_scenario(broker: LocalBroker, spool: Path) -> tuple[list[str], float]:
    ids: list[str] = []
    async with Telemetry(broker.target, spool, retry_seconds=0.5) as telemetry:
        ids += await emit(telemetry, 3_000, customer_id=1)
        await asyncio.sleep(1)
        await asyncio.to_thread(broker.stop)
        down_at = time.monotonic()
        for _round in range(40):  # 4,000 actions over >= 10 s of outage
            ids += await emit(telemetry, 100, customer_id=2)
            await asyncio.sleep(0.26)
        outage = time.monotonic() - down_at
        await asyncio.to_thread(broker.start)
        ids += await emit(telemetry, 3_000, customer_id=3)
    return ids, outage


def spooled_so_far() -> float:
    sample = REGISTRY.get_sample_value(
        "spur_client_events_spooled_total", {"topic": Topic.ACTIONS.value}
    )
    return sample or 0.0


def test_no_action_is_lost_while_the_broker_is_down(tmp_path: Path) -> None:
    spooled_before = spooled_so_far()
    broker = LocalBroker(data_dir=tmp_path / "kafka")
    broker.start()
    try:
        asyncio.run(ensure_topics(broker.target, topic_specs(Settings())))
        ids, outage = asyncio.run(outage_scenario(broker, tmp_path / "spool"))
        received = asyncio.run(stored_action_ids(broker.target))
    finally:
        broker.stop()
    assert outage >= 10
    # The outage went through the spool. Not every one of its 4,000 actions:
    # those already in aiokafka's per-partition batches when the broker went
    # away are delivered by its own retries once it is back (keyed by action
    # id, they fill four partitions' batches, not one customer's).
    assert spooled_so_far() - spooled_before >= 2_000
    assert len(ids) == len(set(ids)) == 10_000
    assert set(ids) - received == set()
    assert (tmp_path / "spool" / "events.jsonl").stat().st_size == 0  # all re-sent


def test_a_restarted_app_server_re_sends_its_spool(
    fresh_topics: KafkaTarget, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"

    async def while_broker_unreachable() -> list[str]:
        nowhere = f"127.0.0.1:{free_port()}"
        telemetry = Telemetry(nowhere, spool, retry_seconds=0.2)
        await telemetry.start()
        ids = await emit(telemetry, 500, customer_id=9)
        await telemetry.close(drain_seconds=1)  # the app server stops: spool stays
        return ids

    async def after_restart() -> None:
        async with Telemetry(fresh_topics, spool):
            pass  # starting is enough: the spool is re-sent, then closing waits for it

    ids = asyncio.run(while_broker_unreachable())
    assert (spool / "events.jsonl").stat().st_size > 0
    assert asyncio.run(stored_action_ids(fresh_topics)) == set()
    asyncio.run(after_restart())
    assert set(ids) <= asyncio.run(stored_action_ids(fresh_topics))


def test_the_synchronous_facade_delivers_from_many_threads(
    fresh_topics: KafkaTarget, tmp_path: Path
) -> None:
    ids: list[str] = []

    def request(telemetry: SyncTelemetry, n: int) -> None:
        with telemetry.action(
            "document.open", customer_id=5, login="bob", session_id=f"t{n}", client_ip="::1"
        ) as action:
            action.bytes_in = n
        ids.append(str(action.action_id))

    with SyncTelemetry(fresh_topics, tmp_path / "spool") as telemetry:
        threads = [threading.Thread(target=request, args=(telemetry, n)) for n in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(ids) == 200
    assert set(ids) <= asyncio.run(stored_action_ids(fresh_topics))


def test_a_full_buffer_is_sent_through_the_spool_while_the_broker_is_up(
    fresh_topics: KafkaTarget, tmp_path: Path
) -> None:
    # Found from outside: events spooled because the buffer was full stayed in
    # the spool until the app server restarted, behind events emitted later.
    spool = tmp_path / "spool"

    async def burst() -> list[str]:
        async with Telemetry(fresh_topics, spool, buffer_size=100) as telemetry:
            await asyncio.sleep(1)  # connected: sending from memory
            ids = []
            for n in range(3_000):  # no await: the buffer fills at once
                with telemetry.action(
                    "document.open", customer_id=5, login="ann", session_id="s5",
                    client_ip="10.0.0.1",
                ) as action:  # fmt: skip
                    action.bytes_out = n
                ids.append(str(action.action_id))
        return ids

    ids = asyncio.run(burst())  # close() waits: delivered before it returns
    assert (spool / "events.jsonl").stat().st_size == 0
    records = asyncio.run(read_records(fresh_topics, Topic.ACTIONS))
    sent = [(r.partition, msgspec.json.decode(r.value or b"{}")) for r in records]
    assert sorted(d["action_id"] for _, d in sent) == sorted(ids)  # each once
    # Emission order holds within each partition (bytes_out counts the emissions).
    for partition in {p for p, _ in sent}:
        counts = [d["bytes_out"] for p, d in sent if p == partition]
        assert counts == sorted(counts)
