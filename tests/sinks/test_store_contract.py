"""The embedded store through the pipeline: migrations, windows, billing, on real chdb."""

import datetime as dt
import uuid

import msgspec
from msgspec.structs import replace

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.operations.billing import billing
from spur.operations.capacity_differences import reconcile_capacity
from spur.operations.reconcile import reconcile, span_now
from spur.operations.repair import repair
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.events import Action
from spur_schemas.validate import encode
from spur_sinks.capacity import read_capacity, refresh_capacity
from spur_sinks.migrate import apply_migrations, migrations, render
from spur_sinks.store import PROBE, Store, sql_string
from spur_streams.batch import Batch, Message
from spur_streams.usage import CapacityKey
from tests.oracle import expected_billing

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def test_migrations_apply_once(store: Store) -> None:
    first = apply_migrations(store, Settings().retention.tables)
    assert [m.version for m in first] == [m.version for m in migrations()]
    assert apply_migrations(store, Settings().retention.tables) == []
    tables = {r["name"] for r in store.query(
        f"SELECT name FROM system.tables WHERE database = '{store.database}'"
    )}  # fmt: skip
    assert {"actions", "action_ids", "usage_hourly", "capacity_minutely"} <= tables


def test_retention_is_compiled_into_the_ttl() -> None:
    (statement,) = render(
        migrations()[0], Settings(actions_retention_days=90).retention.tables, "spur"
    )
    assert "INTERVAL 90 DAY" in statement


def messages(actions: list[Action], first_offset: int = 0) -> list[Message]:
    return [
        Message("spur.actions.v1", 0, first_offset + n, encode(a)) for n, a in enumerate(actions)
    ]


def pipeline(store: Store) -> Batch:
    apply_migrations(store, Settings().retention.tables)
    return batch_steps(store, Settings())


def billed(store: Store, month: str = "2026-11", tz: str = "UTC") -> dict[int, tuple[int, ...]]:
    return {u.customer_id: (u.bytes_in, u.bytes_out, u.actions) for u in billing(store, month, tz)}


def test_replays_and_redeliveries_count_once(store: Store) -> None:
    p = pipeline(store)
    actions = list(simulate_actions(WorkloadShape(customers=3, sessions_per_customer=4)))
    batch = messages(actions)
    p.process_actions(batch[:40], NOW)
    p.process_actions(batch[20:], NOW)  # a replay of 20 messages after a "crash"
    p.process_actions(messages(actions[:10], first_offset=10_000), NOW)  # re-sent upstream
    assert billed(store) == expected_billing(actions)
    assert len(billed(store)) == 3


def test_a_conflicting_duplicate_is_rejected_and_the_first_copy_stands(
    store: Store,
) -> None:
    p = pipeline(store)
    (first,) = list(simulate_actions(WorkloadShape(customers=1, sessions_per_customer=1)))[:1]
    changed = replace(first, bytes_out=first.bytes_out + 1)
    p.process_actions(messages([first]), NOW)
    outcome = p.process_actions(messages([changed], first_offset=1), NOW)
    assert [d.reason for d in outcome.dead_letters] == ["conflicting_duplicate"]
    assert billed(store) == expected_billing([first])


def test_sums_do_not_wrap_at_64_bits(store: Store) -> None:
    p = pipeline(store)
    (template,) = list(simulate_actions(WorkloadShape(customers=1, sessions_per_customer=1)))[:1]
    huge = [replace(template, action_id=uuid.UUID(int=n), bytes_in=2**63 - 1) for n in range(1, 4)]
    p.process_actions(messages(huge), NOW)
    (usage,) = billing(store, template.started_at.strftime("%Y-%m"))
    assert usage.bytes_in == 3 * (2**63 - 1)


def test_capacity_sums_do_not_wrap_at_64_bits(store: Store) -> None:
    p = pipeline(store)
    (template,) = list(simulate_actions(WorkloadShape(customers=1, sessions_per_customer=1)))[:1]
    month = template.started_at.strftime("%Y-%m")
    huge = [
        replace(template, action_id=uuid.UUID(int=n), bytes_in=2**63 - 1, bytes_out=2**63 - n)
        for n in range(1, 4)
    ]
    process(p, store, messages(huge[:2]))
    process(p, store, messages(huge[2:], first_offset=2))  # summed in the states, then merged
    minute = template.started_at.replace(second=0, microsecond=0)
    (window,) = read_capacity(store, [CapacityKey(template.action, minute)])
    assert (window.bytes_in, window.bytes_out) == (3 * (2**63 - 1), 3 * 2**63 - 6)
    assert reconcile_capacity(store, span_now(store, month)) == []
    # The window as a store before migration 0010 published it (wrapped), rebuilt
    # from the raw actions by the repair, whole.
    store.execute(
        f"INSERT INTO {store.database}.capacity_minutely "
        "SELECT action, minute, actions, error_actions, "
        f"toUInt64(bytes_in % {2**64}), toUInt64(bytes_out % {2**64}), "
        "duration_p50_ms, duration_p95_ms, duration_p99_ms, version + 1 "
        f"FROM {store.database}.capacity_minutely FINAL"
    )
    assert reconcile_capacity(store, span_now(store, month)) != []
    assert repair(store, span_now(store, month)) == 1
    assert reconcile_capacity(store, span_now(store, month)) == []


def test_an_action_belongs_to_the_month_of_its_start(store: Store) -> None:
    p = pipeline(store)
    (template,) = list(simulate_actions(WorkloadShape(customers=1, sessions_per_customer=1)))[:1]
    # Starts 23:30 UTC on 31 October = 00:30 on 1 November in Berlin (CET).
    start = dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)
    action = replace(template, started_at=start, ended_at=start + dt.timedelta(hours=1))
    p.process_actions(messages([action]), NOW)
    assert [u.actions for u in billing(store, "2026-10", "UTC")] == [1]
    assert billing(store, "2026-11", "UTC") == []
    assert [u.actions for u in billing(store, "2026-11", "Europe/Berlin")] == [1]
    assert billing(store, "2026-10", "Europe/Berlin") == []


def test_profiles_are_kept_only_under_consent(store: Store) -> None:
    p = pipeline(store)
    actions = [
        a for a in simulate_actions(WorkloadShape(customers=2, sessions_per_customer=8))
        if a.profile is not None
    ]  # fmt: skip
    consenting = actions[0].login
    grant = {
        "consent_id": str(uuid.uuid4()), "ts": "2026-10-01T00:00:00Z", "customer_id": 1,
        "login": consenting, "purpose": "extended_processing", "granted": True, "source": "test",
    }  # fmt: skip
    p.process_consent([Message("spur.consent.v1", 0, 0, msgspec.json.encode(grant))], NOW)
    p.process_actions(messages(actions), NOW)
    rows = store.query(
        f"SELECT login, length(mapKeys(profile)) AS kept FROM {store.database}.actions"
    )
    assert rows
    assert all((row["kept"] > 0) == (row["login"] == consenting) for row in rows)


def process(p: Batch, store: Store, batch: list[Message]) -> None:
    """A batch and its tail (capacity), as the worker runs them."""
    refresh_capacity(store, p.process_actions(batch, NOW).capacity)


# Contract changed with migration 0006 (exact folds): actions days behind their partition's newest
# event time were stored raw and left out of the windows until `--repair`;
# now they are folded like any other and reconcile finds nothing to repair.
def test_late_actions_are_folded_and_reconcile_finds_no_difference(store: Store) -> None:
    p = pipeline(store)
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=6, days=10))
    on_time, too_late = actions[:-5], actions[-5:]
    # The newest action moves the watermark; five from three days earlier arrive after it.
    stale = [
        replace(
            a,
            started_at=a.started_at - dt.timedelta(days=3),
            ended_at=a.ended_at - dt.timedelta(days=3),
        )
        for a in too_late
    ]
    process(p, store, messages(on_time))
    process(p, store, messages(stale, first_offset=len(on_time)))
    assert billed(store) == expected_billing(on_time + stale)
    assert reconcile(store, span_now(store, "2026-11")) == []
    assert reconcile_capacity(store, span_now(store, "2026-11")) == []


def test_repair_rebuilds_a_lost_fold_by_content_and_leaves_erased_logins_billed(
    store: Store,
) -> None:
    p = pipeline(store)
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=6, days=10))
    process(p, store, messages(actions))
    truth = expected_billing(actions)
    # A disaster: one window's sums and state lost, one action's id kept but
    # its raw row erased (a login erasure), one capacity minute doubled.
    lost = actions[3]
    hour = f"toStartOfHour(toDateTime64({lost.started_at.timestamp()}, 3, 'UTC'))"
    for table in ("usage_sums", "usage_hourly"):
        store.execute(
            f"DELETE FROM {store.database}.{table} WHERE customer_id = {lost.customer_id} "
            f"AND hour = {hour} SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
        )
    erased = actions[-1]
    store.execute(
        f"DELETE FROM {store.database}.actions WHERE action_id = '{erased.action_id}' "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    doubled = int(actions[0].started_at.timestamp()) // 60 * 60
    store.execute(
        f"INSERT INTO {store.database}.capacity_states "
        "SETTINGS insert_deduplication_token = 'disaster' "
        f"SELECT * FROM {store.database}.capacity_states "
        f"WHERE minute = toDateTime({doubled}, 'UTC')"
    )
    refresh_capacity(store, p.process_actions(messages(actions[:1]), NOW).capacity)
    assert billed(store) != truth
    assert reconcile_capacity(store, span_now(store, "2026-11")) != []
    assert repair(store, span_now(store, "2026-11")) >= 2
    # Left alone: the minute of the erased action only (its capacity stays counted).
    erased_minute = erased.started_at.replace(second=0, microsecond=0)
    assert {d.minute for d in reconcile_capacity(store, span_now(store, "2026-11"))} == {
        erased_minute
    }
    # Everything billed again, the erased login's action included (its window is not reduced).
    assert billed(store) == truth
    (left,) = reconcile(store, span_now(store, "2026-11"))
    assert (left.customer_id, left.aggregated[2] - left.raw[2]) == (erased.customer_id, 1)
    # The stream goes on from the repaired windows without counting twice.
    process(batch_steps(store, Settings()), store, messages(actions))
    assert billed(store) == truth


def test_repair_wins_over_a_published_state_when_the_sums_lost_rows(store: Store) -> None:
    p = pipeline(store)
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=6, days=1))
    first, later = actions[::2], actions[1::2]  # the same windows, twice
    for n in range(len(first)):  # one by one: many updates per window, high versions
        process(p, store, messages(first[n : n + 1], first_offset=n))
    # A disaster: the sums of one customer lost, its published states kept.
    victim = first[0].customer_id
    store.execute(
        f"DELETE FROM {store.database}.usage_sums WHERE customer_id = {victim} "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    process(p, store, messages(later, first_offset=len(first)))
    assert billed(store) != expected_billing(actions)
    assert repair(store, span_now(store, "2026-11")) > 0
    assert billed(store) == expected_billing(actions)
    assert reconcile(store, span_now(store, "2026-11")) == []


def test_a_replay_republishes_window_states_that_may_have_been_lost(store: Store) -> None:
    first = pipeline(store)
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=3))
    published = first.process_actions(messages(actions), NOW).usage
    # Crash after the store write, before the window states reached the topic:
    replayed = batch_steps(store, Settings()).process_actions(messages(actions), NOW).usage
    assert replayed == published
    assert published


def test_string_literals_survive_quotes_and_backslashes(store: Store) -> None:
    for text in ["o'neil", "back\\slash", "\\'", "ünï\tcode\n", "'; DROP TABLE actions; --"]:
        assert store.query(f"SELECT {sql_string(text)} AS v") == [{"v": text}]


def test_a_query_reads_its_keys_as_the_probe_table(store: Store) -> None:
    keys = ["o'neil", "a\\b", "plain", "plain"]
    rows = store.query(
        f"SELECT key, count() AS n FROM {PROBE} WHERE key != 'plain' GROUP BY key ORDER BY key",
        keys,
    )
    assert rows == [{"key": "a\\b", "n": 1}, {"key": "o'neil", "n": 1}]
    assert store.query(f"SELECT count() AS n FROM {PROBE}", []) == [{"n": 0}]
