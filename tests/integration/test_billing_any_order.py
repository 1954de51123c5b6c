"""Billing is exact whatever the order in which actions arrive (docs/guarantees.md),
checked from outside: raw bytes on the real broker, a running `spur worker`, and
what the CLI and the store then say.

Each test names, in its docstring, the broken implementation it catches.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings
from spur_schemas.events import Action
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from spur_sinks.store import Store
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import billed_by_cli, publish_all, stored_rows_and_ids
from tests.oracle import expected_billing, expected_capacity, expected_windows
from tests.stored import stored_capacity, stored_usage

pytestmark = pytest.mark.integration

Message = tuple[bytes, bytes]  # (key, value) on spur.actions.v1


def messages_of(actions: list[Action]) -> list[Message]:
    """The bytes an app server publishes: key = customer id, value = contract JSON."""
    return [(str(a.customer_id).encode(), encode(a)) for a in actions]


def publish_and_wait(
    bootstrap: KafkaTarget,
    messages: list[Message],
    group: str,
    worker: subprocess.Popen[bytes],
    log: Path,
) -> None:
    asyncio.run(publish_all(bootstrap, messages))
    wait_until_committed(bootstrap, group, [Topic.ACTIONS], worker=worker, log=log)


def billing_document(env: dict[str, str], month: str = "2026-11") -> dict[str, Any]:
    result = spur(env, "billing", "--month", month, "--format", "json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def billed(env: dict[str, str], month: str = "2026-11") -> dict[int, tuple[int, int, int]]:
    return billed_by_cli(json.dumps(billing_document(env, month)))


def assert_reconciled(env: dict[str, str], month: str = "2026-11") -> None:
    """`spur reconcile` (no --repair): no usage and no capacity difference."""
    result = spur(env, "reconcile", "--month", month, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["differences"] == []
    assert document["capacity_differences"] == []
    assert (document["remaining"], document["capacity_remaining"]) == (0, 0)


def dead_letter_counts(env: dict[str, str]) -> dict[str, int]:
    result = spur(env, "deadletters", "--format", "json")
    assert result.returncode == 0, result.stderr
    counts: dict[str, int] = json.loads(result.stdout)["counts"]
    return counts


def scrape(workdir: Path) -> dict[str, float]:
    """The running worker's Prometheus samples, by series (``name{labels}``)."""
    import urllib.request

    endpoint = json.loads((workdir / "state" / "worker.json").read_text())["metrics"]
    with urllib.request.urlopen(endpoint, timeout=10) as response:  # loopback
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples


def test_a_month_published_in_shuffled_order_is_billed_exactly(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str, store: Store
) -> None:
    """A backfill of a whole month in random order, duplicates included, is billed
    like live data with no manual step: billing, hourly windows and capacity
    minutes equal the oracle, and reconcile finds nothing.

    Fails on: an implementation that keeps "late" actions out of the windows
    (the pipeline before migration 0006 left 46,476 of 50,000 out; the late
    counter proves most actions here are late by 48 h or more); capacity
    minutes computed from the actions a batch sees rather than merged with what
    the minute already holds (the shuffle spreads every minute over many
    batches); duplicates counted twice.
    """
    actions = simulate_actions(WorkloadShape(customers=100, sessions_per_customer=50, seed=61))
    assert len(actions) >= 25_000
    rng = random.Random(61)
    messages = messages_of(actions)
    messages += rng.sample(messages, len(messages) // 20)  # re-sent copies, same bytes
    rng.shuffle(messages)
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="shuffled")
    log = tmp_path / "worker.log"

    with running_worker(env, log) as worker:
        publish_and_wait(fresh_topics, messages, "shuffled", worker, log)
        samples = scrape(tmp_path)

    assert billed(env) == expected_billing(actions)
    assert_reconciled(env)
    assert stored_usage(store) == expected_windows(actions)
    assert stored_capacity(store) == expected_capacity(actions)
    # The order really was hostile: most actions arrived late, all were billed.
    assert samples["spur_late_events_total"] > len(actions) / 2
    assert samples["spur_duplicates_total"] == len(messages) - len(actions)
    assert dead_letter_counts(env) == {}


def with_times(document: dict[str, object], started_at: str, ended_at: str) -> bytes:
    return msgspec.json.encode({**document, "started_at": started_at, "ended_at": ended_at})


def test_an_action_from_the_future_first_on_its_partition_changes_nothing(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str, store: Store
) -> None:
    """An app server whose clock runs a year ahead publishes first on its partition
    (also raw bytes dated 2150 and 9999); then the partition's ordinary traffic,
    time-ordered, across a worker restart. The bad ones are dead letters
    (future_timestamp), nothing of them is stored, every other action is billed,
    and no watermark moved: no action counts as late, no partition's event-time
    lag is negative.

    Fails on: no future guard (the year-ahead action is billed in 2027-12, the
    9999 one's raw row vanishes by TTL overflow while its id stays); a guard
    applied after the watermark moved (every later action of the partition is
    "late" and, with a watermark-based window, frozen out of billing, also after
    a restart if the mark is persisted); a guard with the wrong reason code.
    """
    actions = simulate_actions(WorkloadShape(customers=10, sessions_per_customer=20, seed=62))
    victim = actions[0]
    key = str(victim.customer_id).encode()
    year_ahead = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    future = msgspec.structs.replace(
        victim, action_id=uuid.uuid4(), parent_action_id=None,
        started_at=year_ahead, ended_at=year_ahead + dt.timedelta(seconds=2),
    )  # fmt: skip
    document = msgspec.json.decode(encode(victim))
    far_future = [
        with_times({**document, "action_id": str(uuid.uuid4())}, f"{year}-01-01T00:00:00Z", end)
        for year, end in ((2150, "2150-01-01T00:00:01Z"), (9999, "9999-12-31T23:59:59.999Z"))
    ]
    first = [(key, encode(future)), *((key, raw) for raw in far_future)]
    half = len(actions) // 2
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="clock")
    log = tmp_path / "worker.log"

    for batch in (first + messages_of(actions[:half]), messages_of(actions[half:])):
        with running_worker(env, log) as worker:  # the second run: after a restart
            publish_and_wait(fresh_topics, batch, "clock", worker, log)
            samples = scrape(tmp_path)
        assert samples["spur_late_events_total"] == 0
        lags = {s: v for s, v in samples.items() if s.startswith("spur_event_time_lag_seconds")}
        assert lags, "no partition's event-time lag exported"
        assert all(lag > 0 for lag in lags.values()), lags

    assert dead_letter_counts(env) == {"future_timestamp": 3}
    assert billed(env) == expected_billing(actions)
    assert billing_document(env, year_ahead.strftime("%Y-%m"))["customers"] == []
    assert_reconciled(env)
    db = store.database
    for table in ("actions", "action_ids"):
        rows = store.query(f"SELECT count() AS n FROM {db}.{table} WHERE started_at > now64(3)")
        assert rows == [{"n": 0}], table
    assert stored_rows_and_ids(env) == [{"rows": len(actions), "ids": len(actions)}]


def ttl_of(store: Store, table: str) -> str:
    rows = store.query(
        f"SELECT engine_full FROM system.tables WHERE database = '{store.database}' "
        f"AND name = '{table}'"
    )
    found = re.search(r"\bTTL (.+?)(?: SETTINGS |$)", rows[0]["engine_full"])
    assert found, rows
    return found.group(1)


def age_the_dedup_index(store: Store, days: int) -> None:
    """Rewrite the dedup index as the server would hold it ``days`` later: every id
    first seen ``days`` ago, and every TTL already due applied (OPTIMIZE FINAL).

    The server's clock cannot move, so the rows move back instead. A TTL
    counted from when an id was seen (the old 7-day horizon), or any horizon
    shorter than the actions' age, deletes them here.
    """
    db = store.database
    columns = "action_id, content_hash, partition, offset, customer_id, started_at"
    store.execute(f"CREATE TABLE {db}.aged_ids ENGINE = Memory AS SELECT * FROM {db}.action_ids")
    store.execute(f"TRUNCATE TABLE {db}.action_ids")
    store.execute(
        f"INSERT INTO {db}.action_ids ({columns}, seen_at) "
        f"SELECT {columns}, seen_at - INTERVAL {days} DAY FROM {db}.aged_ids"
    )
    store.execute(f"DROP TABLE {db}.aged_ids")
    store.execute(f"OPTIMIZE TABLE {db}.action_ids FINAL")


def test_a_repeat_long_after_the_first_copy_counts_once(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str, store: Store
) -> None:
    """Actions of about ten months ago (within the year's retention) are billed; a
    repeat arrives at once, then, after a worker restart and with the dedup
    index aged by 300 days, the whole set again and some with other content. Each
    counts once; the conflicting copies are dead letters (conflicting_duplicate).

    Fails on: a dedup index with a horizon shorter than retention, counted from
    when an id was seen (the old SPUR_DEDUP_HORIZON_DAYS=7: aging the index
    deletes its rows) or from the event time (the index TTL must be the raw
    table's, checked, and these actions are ~300 days old); an in-memory id
    cache (lost at the restart); dedup by id without content (no conflicts).
    """
    now = dt.datetime.now(dt.UTC)
    ten_months_ago = (now - dt.timedelta(days=300)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    month = ten_months_ago.strftime("%Y-%m")
    actions = simulate_actions(
        WorkloadShape(customers=8, sessions_per_customer=20, month_start=ten_months_ago,
                      days=1, seed=63)
    )  # fmt: skip
    assert all(a.started_at.strftime("%Y-%m") == month for a in actions)
    rng = random.Random(63)
    repeated = rng.sample(actions, 40)
    conflicting = [
        msgspec.structs.replace(a, bytes_out=a.bytes_out + 1) for a in rng.sample(actions, 25)
    ]
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="repeat")
    log = tmp_path / "worker.log"

    with running_worker(env, log) as worker:
        publish_and_wait(fresh_topics, messages_of(actions), "repeat", worker, log)
        publish_and_wait(fresh_topics, messages_of(repeated), "repeat", worker, log)
        assert scrape(tmp_path)["spur_duplicates_total"] == len(repeated)
    assert billed(env, month) == expected_billing(actions)

    # The index lives as long as the raw row it stands for.
    assert ttl_of(store, "action_ids") == ttl_of(store, "actions")
    retention = Settings().retention.actions_days
    assert ttl_of(store, "actions") == f"toDateTime(started_at) + toIntervalDay({retention})"
    age_the_dedup_index(store, days=300)

    with running_worker(env, log) as worker:
        again = messages_of(actions) + messages_of(conflicting)
        publish_and_wait(fresh_topics, again, "repeat", worker, log)
        assert scrape(tmp_path)["spur_duplicates_total"] == len(actions)

    assert billed(env, month) == expected_billing(actions)
    assert dead_letter_counts(env) == {"conflicting_duplicate": len(conflicting)}
    assert stored_rows_and_ids(env) == [{"rows": len(actions), "ids": len(actions)}]
    assert_reconciled(env, month)


def usage_of(rows: list[dict[str, int]]) -> dict[int, tuple[int, int, int]]:
    return billed_by_cli(json.dumps({"customers": rows}))


def test_a_closed_month_keeps_its_totals_and_bills_late_actions_as_corrections(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    """Part of November is published and the month closed; the rest arrives late
    (a customer never seen before among it, and repeats of closed actions).
    `spur billing` shows the closed totals unchanged and the late actions, per
    customer, as corrections; closing again changes nothing and says so.

    Fails on: a close that records nothing (billing would show current totals
    and no corrections), a second close that overwrites the first (closed totals
    and time change), late actions of a closed month dropped (no corrections),
    repeats of closed actions counted again (a correction for them).
    """
    actions = simulate_actions(WorkloadShape(customers=8, sessions_per_customer=40, seed=64))
    newcomer = actions[-1].customer_id  # billed only after closing
    rng = random.Random(64)
    on_time = [a for a in actions if a.customer_id != newcomer and rng.random() < 0.7]
    closed_ids = {a.action_id for a in on_time}
    late = [a for a in actions if a.action_id not in closed_ids]
    rng.shuffle(late)
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="close")
    log = tmp_path / "worker.log"

    with running_worker(env, log) as worker:
        publish_and_wait(fresh_topics, messages_of(on_time), "close", worker, log)
        closed = spur(env, "billing", "close", "--month", "2026-11")
        assert closed.returncode == 0, closed.stderr
        assert closed.stdout.startswith("closed 2026-11 (UTC) at "), closed.stdout
        publish_and_wait(
            fresh_topics, messages_of(late + rng.sample(on_time, 50)), "close", worker, log
        )
        shown = billing_document(env)
        again = spur(env, "billing", "close", "--month", "2026-11")

    assert again.returncode == 0, again.stderr
    assert "already closed" in again.stdout, again.stdout
    assert again.stdout.rstrip().endswith("nothing changed"), again.stdout
    assert billing_document(env) == shown
    assert shown["closed"] is not None
    assert usage_of(shown["customers"]) == expected_billing(on_time)
    assert usage_of(shown["corrections"]) == expected_billing(late)
    assert newcomer in usage_of(shown["corrections"])
    assert newcomer not in usage_of(shown["customers"])
    for part in ("customers", "corrections"):
        for row in shown[part]:
            assert row["bytes_total"] == row["bytes_in"] + row["bytes_out"]
    assert_reconciled(env)
