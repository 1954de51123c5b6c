"""One contract suite for the batch's store-side interfaces (spur_streams.steps), run against
the in-memory fakes (tests/fakes.py) AND the ClickHouse sinks on the local store.

Whatever tests/streams proves with the fakes holds for the store, as far as
these contracts go: the fakes are held to the store's behaviour here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.located import Located
from spur_schemas.messages import DeadLetter
from spur_sinks import erasure
from spur_sinks.capacity import StoreCapacity
from spur_sinks.consent import StoreConsent
from spur_sinks.dedup_index import StoreDedupIndex
from spur_sinks.migrate import apply_migrations
from spur_sinks.raw_events import StoreRawEvents
from spur_sinks.store import Store
from spur_sinks.tables import Retention, SubjectKind
from spur_sinks.tombstones import StoreTombstones
from spur_sinks.windows import StoreWindows
from spur_sinks.writer import Retrying
from spur_streams.dedup import content_hash
from spur_streams.steps.dedup import DedupIndex
from spur_streams.steps.erasure import ErasureLog
from spur_streams.steps.privacy import ConsentSource
from spur_streams.steps.store_rows import RawEventsSink
from spur_streams.steps.windows import CapacityStore, WindowStore
from spur_streams.usage import CapacityKey, WindowKey
from tests.fakes import MemoryStore
from tests.streams.helpers import NOW, action, consent, form, web
from tests.window_keys import hour_of, minute_of

HOUR = hour_of(NOW - dt.timedelta(hours=1))


@dataclass
class Backend:
    index: DedupIndex
    windows: WindowStore
    capacity: CapacityStore
    consent: ConsentSource
    raw: RawEventsSink
    erasure: ErasureLog
    erase: Callable[[SubjectKind, str, dt.datetime], None]


@pytest.fixture(params=["memory", "store"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        memory = MemoryStore()
        yield Backend(memory, memory, memory, memory, memory, memory, memory.erase)
        return
    store: Store = request.getfixturevalue("store")
    apply_migrations(store, Retention())
    retried = Retrying(store)

    def erase(kind: SubjectKind, value: str, at: dt.datetime) -> None:
        erasure.record_tombstone(store, kind, value, uuid.uuid4(), at)

    yield Backend(
        StoreDedupIndex(retried), StoreWindows(retried), StoreCapacity(store),
        StoreConsent(retried), StoreRawEvents(retried), StoreTombstones(retried), erase,
    )  # fmt: skip


def located(*documents: dict[str, Any]) -> list[Located[Action]]:
    return [
        Located(msgspec.json.decode(msgspec.json.encode(d), type=Action), 0, n)
        for n, d in enumerate(documents)
    ]


def fold(backend: Backend, items: list[Located[Action]]) -> None:
    hashes = [content_hash(item.event) for item in items]
    backend.windows.fold([backend.windows.fold_rows(items, hashes)])


def test_the_index_answers_the_hash_of_every_folded_id_and_nothing_else(
    backend: Backend,
) -> None:
    items = located(action(), action())
    assert backend.index.counted([]) == {}
    assert backend.index.counted([items[0].event.action_id]) == {}
    fold(backend, items[:1])
    unknown = uuid.uuid4()
    found = backend.index.counted([item.event.action_id for item in items] + [unknown])
    assert found == {items[0].event.action_id: content_hash(items[0].event)}


def test_window_states_are_the_folded_sums_with_one_version_per_fold(backend: Backend) -> None:
    first = located(action(bytes_in=1, bytes_out=2), action(bytes_in=3, status="error"))
    fold(backend, first)
    fold(backend, located(action(bytes_in=10)))
    fold(backend, located(action(customer_id=43)))
    key = WindowKey(42, HOUR)
    untouched = WindowKey(42, HOUR - dt.timedelta(hours=1))
    states = backend.windows.states({key, untouched})
    assert list(states) == [key]
    state = states[key]
    assert (state.bytes_in, state.bytes_out, state.actions, state.error_actions) == (14, 4002, 3, 1)
    assert state.duration_ms == 3 * 30_000
    assert state.version == 2
    backend.windows.write(states, NOW)
    backend.windows.write({}, NOW)
    assert backend.windows.states(set()) == {}
    assert backend.windows.states({key}) == states


def test_capacity_minutes_merge_every_fold_exactly(backend: Backend) -> None:
    minute = minute_of(NOW - dt.timedelta(hours=1))
    quick = action(action="a.x", ended_at=(NOW - dt.timedelta(minutes=59, seconds=59)).isoformat())
    fold(backend, located(action(action="a.x"), quick))
    fold(backend, located(action(action="a.x", status="error", bytes_out=1)))
    key = CapacityKey("a.x", minute)
    assert backend.capacity.refresh([]) == []
    assert backend.capacity.refresh([CapacityKey("b.y", minute)]) == []
    (found,) = backend.capacity.refresh([key, key])
    assert (found.action, found.minute, found.actions, found.error_actions) == ("a.x", minute, 3, 1)
    assert (found.bytes_in, found.bytes_out, found.version) == (300, 4001, 2)
    assert (found.duration_p50_ms, found.duration_p95_ms, found.duration_p99_ms) == (
        30_000.0, 30_000.0, 30_000.0,
    )  # fmt: skip
    assert found.key == f"a.x:{minute.isoformat()}".encode()


def test_grown_windows_are_those_folded_into_since_their_published_version(
    backend: Backend,
) -> None:
    # What a worker that does not hold every partition re-reads after publishing.
    fold(backend, located(action(action="a.x"), action(customer_id=43, action="b:y")))
    hours = backend.windows.states({WindowKey(42, HOUR), WindowKey(43, HOUR)})
    minute = minute_of(NOW - dt.timedelta(hours=1))
    minutes = {m.action: m for m in backend.capacity.refresh(
        [CapacityKey("a.x", minute), CapacityKey("b:y", minute)]
    )}  # fmt: skip
    assert backend.windows.grown_hours({}) == {}
    assert backend.capacity.grown_minutes({}) == []
    published_hours = {key: state.version for key, state in hours.items()}
    published_minutes = {CapacityKey(m.action, m.minute): m.version for m in minutes.values()}
    assert backend.windows.grown_hours(published_hours) == {}
    assert backend.capacity.grown_minutes(published_minutes) == []

    fold(backend, located(action(action="a.x", bytes_in=5)))  # another worker's: 42, a.x
    grown = backend.windows.grown_hours(published_hours)
    assert list(grown) == [WindowKey(42, HOUR)]
    assert (grown[WindowKey(42, HOUR)].actions, grown[WindowKey(42, HOUR)].version) == (2, 2)
    assert backend.capacity.grown_minutes(published_minutes) == [CapacityKey("a.x", minute)]
    # A window published at its newest version has not grown; one never folded neither.
    never = WindowKey(44, HOUR)
    assert backend.windows.grown_hours({**published_hours, WindowKey(42, HOUR): 2, never: 0}) == {}
    assert backend.capacity.grown_minutes({CapacityKey("c.z", minute): 0}) == []


def test_the_consent_ledger_answers_stored_decisions_of_the_logins_asked(
    backend: Backend,
) -> None:
    grant = msgspec.json.decode(msgspec.json.encode(consent(hours_ago=10)), type=Consent)
    revoke = msgspec.json.decode(
        msgspec.json.encode(consent(granted=False, hours_ago=2)), type=Consent
    )
    other = msgspec.json.decode(msgspec.json.encode(consent("bob@example.com")), type=Consent)
    backend.raw.store_consent([grant, revoke, other])
    backend.raw.store_consent([grant])  # a replay
    ledger = backend.consent.ledger({"ann@example.com", "cat@example.com"})
    assert ledger.granted_at("ann@example.com", NOW - dt.timedelta(hours=5))
    assert not ledger.granted_at("ann@example.com", NOW - dt.timedelta(hours=1))
    assert not ledger.granted_at("ann@example.com", NOW - dt.timedelta(hours=11))
    assert not ledger.granted_at("bob@example.com", NOW)  # not asked for
    assert not backend.consent.ledger(set()).granted_at("ann@example.com", NOW)


def test_tombstones_say_who_was_erased_when(backend: Backend) -> None:
    assert backend.erasure.read().ids == frozenset()
    backend.erase("customer", "7", NOW)
    backend.erase("login", "ann@example.com", NOW)
    found = backend.erasure.read()
    assert len(found.ids) == 2
    assert found.customer_erased_before(7, NOW - dt.timedelta(seconds=1))
    assert not found.customer_erased_before(7, NOW + dt.timedelta(seconds=1))
    assert not found.customer_erased_before(8, NOW - dt.timedelta(seconds=1))
    assert found.login_erased_before("ann@example.com", NOW - dt.timedelta(seconds=1))
    assert not found.login_erased_before("bob@example.com", NOW - dt.timedelta(seconds=1))
    backend.erasure.delete_again("customer", "7")
    assert backend.erasure.read().ids == found.ids


def test_raw_rows_of_every_stream_are_accepted_empty_or_not(backend: Backend) -> None:
    letter = DeadLetter("spur.web.v1", 0, 1, "not_json", "x", None, NOW, "e30=", False)
    web_event = msgspec.json.decode(msgspec.json.encode(web()), type=WebRequest)
    form_event = msgspec.json.decode(msgspec.json.encode(form()), type=FormSubmission)
    for empty in (True, False):
        backend.raw.store_actions([backend.raw.action_rows([] if empty else located(action()))])
        backend.raw.store_web([] if empty else [web_event])
        backend.raw.store_forms([] if empty else [form_event])
        backend.raw.store_consent([])
        backend.raw.store_dead_letters([] if empty else [letter])


def test_the_consent_ledger_answers_a_batch_of_thousands_of_long_logins(
    backend: Backend,
) -> None:
    """3,000 logins of 128 characters (~400 KB as SQL text, past the server's
    256 KiB max_query_size): asked at once, as a batch asks them."""
    logins = [f"{n:04d}".ljust(120, "x") + "@ex.com" for n in range(3000)]
    granted = msgspec.json.decode(msgspec.json.encode(consent(logins[2999])), type=Consent)
    backend.raw.store_consent([granted])
    ledger = backend.consent.ledger(set(logins))
    assert ledger.granted_at(logins[2999], NOW)
    assert not ledger.granted_at(logins[0], NOW)
