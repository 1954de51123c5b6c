"""Every value an event carries is stored as the contract says, whatever form it arrived in.

The raw-row inserts hand the events' own values to the server (times with
their offset, ids, ``None``, the profile struct; spur_sinks.json_columns.json_columns).
Random events (any offset, sub-millisecond digits, IPv4 and IPv6, every
optional field present or not) go through the real sinks into the real
store; what is read back must equal what the previous, converting encoder
stored: times in UTC truncated to the millisecond, the nil UUID, '' and 0
for absent fields, IPv4 as its mapped IPv6 address, the profile's present
fields only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spur.settings import Settings
from spur_schemas.events import Action, Profile, WebRequest
from spur_schemas.located import Located
from spur_sinks.migrate import apply_migrations
from spur_sinks.raw_events import StoreRawEvents
from spur_sinks.store import Store
from spur_sinks.writer import Retrying

NIL = uuid.UUID(int=0)
# Within every table's retention (web requests keep 92 days), on the hour.
START = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=60)

offsets = st.sampled_from([0, 330, -480, 345, 840, -690]).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
times = st.builds(
    lambda micros, zone: (START + dt.timedelta(microseconds=micros)).astimezone(zone),
    st.integers(0, 50 * 86_400 * 10**6),
    offsets,
)
# Sub-millisecond digits right below an hour's end: truncation, not rounding.
edges = st.builds(
    lambda hour, micros, zone: (START + dt.timedelta(hours=hour, microseconds=-micros)).astimezone(
        zone
    ),
    st.integers(1, 1200),
    st.integers(1, 999),
    offsets,
)
addresses = st.one_of(
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(lambda a: a.compressed)
)
texts = st.text(st.characters(codec="utf-8"), max_size=20)
maybe = st.none() | texts.filter(bool)
profiles = st.none() | st.builds(Profile, locale=maybe, timezone=maybe, role=maybe)


@st.composite
def actions(draw: st.DrawFn) -> Action:
    started = draw(times | edges)
    return Action(
        action_id=draw(st.uuids()),
        action=draw(st.from_regex(r"\A[a-z0-9_.:-]{1,20}\Z")),
        customer_id=draw(st.integers(1, 2**32 - 1)),
        login=draw(texts.filter(bool)),
        session_id=draw(texts.filter(bool)),
        started_at=started,
        ended_at=started + draw(st.integers(0, 10**9)) * dt.timedelta(microseconds=1),
        bytes_in=draw(st.integers(0, 2**63 - 1)),
        bytes_out=draw(st.integers(0, 2**63 - 1)),
        client_ip=draw(addresses),
        parent_action_id=draw(st.none() | st.uuids()),
        data_kind=draw(maybe),
        data_count=draw(st.none() | st.integers(0, 2**63 - 1)),
        status=draw(st.sampled_from(["ok", "error"])),
        error_code=draw(maybe),
        server=draw(maybe),
        profile=draw(profiles),
    )


def stored_time(instant: dt.datetime) -> dt.datetime:
    """How a DateTime64(3, 'UTC') keeps ``instant``: UTC, truncated to the millisecond."""
    utc = instant.astimezone(dt.UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def mapped(address: str) -> ipaddress.IPv6Address:
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv4Address):
        return ipaddress.IPv6Address(f"::ffff:{parsed}")
    return parsed


def expected_action(event: Action) -> dict[str, Any]:
    profile = msgspec.structs.asdict(event.profile) if event.profile else {}
    return {
        "action_id": event.action_id,
        "action": event.action,
        "customer_id": event.customer_id,
        "login": event.login,
        "session_id": event.session_id,
        "started_at": stored_time(event.started_at),
        "ended_at": stored_time(event.ended_at),
        "bytes_in": event.bytes_in,
        "bytes_out": event.bytes_out,
        "client_ip": mapped(event.client_ip),
        "parent_action_id": event.parent_action_id or NIL,
        "data_kind": event.data_kind or "",
        "data_count": event.data_count or 0,
        "status": event.status,
        "error_code": event.error_code or "",
        "server": event.server or "",
        "profile": {k: v for k, v in profile.items() if v is not None},
    }


@pytest.fixture
def migrated(store: Store) -> Store:
    apply_migrations(store, Settings().retention.tables)
    return store


def read_back(store: Store, table: str, names: list[str], order: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = store.query(
        f"SELECT {', '.join(names)} FROM {store.database}.{table} ORDER BY {order}"
    )
    return rows


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(actions(), min_size=1, max_size=30, unique_by=lambda a: a.action_id))
def test_action_rows_hold_each_value_as_the_contract_says(
    migrated: Store, batch: list[Action]
) -> None:
    migrated.execute(f"TRUNCATE TABLE {migrated.database}.actions")
    raw = StoreRawEvents(Retrying(migrated))
    located = [Located(a, n % 4, 10 * n) for n, a in enumerate(batch)]
    half = len(located) // 2  # the rows of two slices, stored in one insert
    raw.store_actions([raw.action_rows(located[:half]), raw.action_rows(located[half:])])
    names = [*expected_action(batch[0]), "kafka_partition", "kafka_offset"]
    rows = read_back(migrated, "actions", names, "kafka_offset")
    for n, (row, event) in enumerate(zip(rows, batch, strict=True)):
        assert row == {**expected_action(event), "kafka_partition": n % 4, "kafka_offset": 10 * n}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batch=st.lists(
        st.builds(
            WebRequest,
            request_id=st.uuids(),
            ts=times | edges,
            path=texts.filter(bool),
            bytes_sent=st.integers(0, 2**63 - 1),
            user_agent=texts,
            client_ip=addresses,
            host=maybe,
            status=st.none() | st.integers(100, 599),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda w: w.request_id,
    )
)
def test_web_rows_hold_each_value_as_the_contract_says(
    migrated: Store, batch: list[WebRequest]
) -> None:
    migrated.execute(f"TRUNCATE TABLE {migrated.database}.web_requests")
    StoreRawEvents(Retrying(migrated)).store_web(batch)
    names = ["request_id", "ts", "path", "bytes_sent", "user_agent", "client_ip", "host", "status"]
    rows = read_back(migrated, "web_requests", names, "request_id")
    expected = [
        {
            "request_id": w.request_id,
            "ts": stored_time(w.ts),
            "path": w.path,
            "bytes_sent": w.bytes_sent,
            "user_agent": w.user_agent,
            "client_ip": mapped(w.client_ip),
            "host": w.host or "",
            "status": w.status or 0,
        }
        for w in sorted(batch, key=lambda w: str(w.request_id))
    ]
    assert sorted(rows, key=lambda r: str(r["request_id"])) == expected
