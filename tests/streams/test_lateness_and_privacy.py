"""Steps lateness and privacy over in-memory fakes, with a recording Metrics."""

from __future__ import annotations

import datetime as dt

from spur_schemas.metrics import DROPPED_PROFILES, EVENT_TIME_LAG, LATE_EVENTS
from spur_schemas.topics import Topic
from spur_streams.privacy import apply_ip_policy
from tests.fakes import MemoryStore, RecordingMetrics, memory_batch
from tests.streams.helpers import NOW, action, consent, form, messages, web


def test_lateness_counts_actions_behind_their_partitions_newest_and_bills_them() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics, allowed_lateness=dt.timedelta(hours=2))
    batch.process_actions(messages(Topic.ACTIONS, [action(hours_ago=1)], partition=0), NOW)
    behind = [action(hours_ago=2.5), action(hours_ago=4), action(hours_ago=30)]
    outcome = batch.process_actions(messages(Topic.ACTIONS, behind, partition=0, first=1), NOW)
    assert metrics.count(LATE_EVENTS) == 2  # 3 h and 29 h behind; 1.5 h is within
    assert sum(u.actions for u in outcome.usage) == 3  # late, and billed all the same
    lag = metrics.gauge(EVENT_TIME_LAG, partition="0")
    assert lag is not None
    assert lag > 3600


def test_lateness_is_per_partition_and_forgotten_on_assign_and_revoke() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics, allowed_lateness=dt.timedelta(hours=2))
    batch.process_actions(messages(Topic.ACTIONS, [action(hours_ago=1)], partition=0), NOW)
    batch.process_actions(messages(Topic.ACTIONS, [action(hours_ago=10)], partition=1), NOW)
    assert metrics.count(LATE_EVENTS) == 0  # another partition's mark does not count
    batch.assign([0])  # partition 0 came back: another worker may have read it
    batch.process_actions(messages(Topic.ACTIONS, [action(hours_ago=10)], partition=0), NOW)
    assert metrics.count(LATE_EVENTS) == 0
    batch.revoke([1])
    batch.process_actions(messages(Topic.ACTIONS, [action(hours_ago=20)], partition=1), NOW)
    assert metrics.count(LATE_EVENTS) == 0
    batch.process_actions(messages(Topic.ACTIONS, [action(hours_ago=30)], partition=1), NOW)
    assert metrics.count(LATE_EVENTS) == 1


def test_a_duplicate_moves_no_mark() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics, allowed_lateness=dt.timedelta(hours=2))
    old = action(hours_ago=1)
    batch.process_actions(messages(Topic.ACTIONS, [action(hours_ago=10)]), NOW)
    batch.process_actions(messages(Topic.ACTIONS, [old], first=1), NOW)
    batch.assign([0])
    batch.process_actions(messages(Topic.ACTIONS, [action(hours_ago=10)], first=2), NOW)
    batch.process_actions(messages(Topic.ACTIONS, [old], first=3), NOW)  # a duplicate
    batch.process_actions(messages(Topic.ACTIONS, [action(hours_ago=9.5)], first=4), NOW)
    assert metrics.count(LATE_EVENTS) == 0


def test_the_actions_ip_policy_applies_to_stored_rows() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics, actions_ip_policy="truncate")
    batch.process_actions(messages(Topic.ACTIONS, [action(client_ip="192.0.2.77")]), NOW)
    assert [item.event.client_ip for item in store.actions] == ["192.0.2.0"]


def test_a_profile_is_kept_only_under_consent_at_the_actions_time() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics)
    grant = consent("ann@example.com", granted=True, hours_ago=10)
    revoke = consent("ann@example.com", granted=False, hours_ago=2)
    batch.process_consent(messages(Topic.CONSENT, [grant, revoke]), NOW)
    profile = {"locale": "de", "role": "admin"}
    docs = [
        action(profile=profile, hours_ago=5),  # granted then
        action(profile=profile, hours_ago=1),  # revoked by then
        action(profile=profile, hours_ago=20),  # before any consent
        action(profile=profile, login="bob@example.com"),  # never consented
    ]
    batch.process_actions(messages(Topic.ACTIONS, docs), NOW)
    kept = [item.event.profile is not None for item in store.actions]
    assert kept == [True, False, False, False]
    assert metrics.count(DROPPED_PROFILES) == 3
    assert store.actions[0].event.profile is not None
    assert store.actions[0].event.profile.locale == "de"


def test_web_paths_lose_query_and_fragment_and_ips_are_truncated() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics)
    assert batch.process_web(messages(Topic.WEB, [web()]), NOW) == []
    assert batch.process_forms(messages(Topic.FORMS, [form()]), NOW) == []
    assert [(w.path, w.client_ip) for w in store.web] == [("/docs/a", "192.0.2.0")]
    assert [f.client_ip for f in store.forms] == ["2001:db8:1::"]


def test_a_6to4_address_is_cut_as_the_ipv4_address_it_holds() -> None:
    """Found from outside: /48 of 2002:cb00:714d::1 kept all of 203.0.113.77."""
    assert apply_ip_policy("2002:cb00:714d::1", "truncate") == "2002:cb00:7100::"
    assert apply_ip_policy("203.0.113.77", "truncate") == "203.0.113.0"
    assert apply_ip_policy("2001:db8:1:2::1", "truncate") == "2001:db8:1::"
    assert apply_ip_policy("::FFFF:203.0.113.77", "truncate") == "203.0.113.0"
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics)
    assert (
        batch.process_forms(messages(Topic.FORMS, [form(client_ip="2002:cb00:714d::1")]), NOW) == []
    )
    assert [f.client_ip for f in store.forms] == ["2002:cb00:7100::"]
