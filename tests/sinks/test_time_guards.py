"""Time guards (docs/events.md): an event from the future or beyond retention is a dead letter."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.operations.billing import billing
from spur.settings import Settings, load_settings
from spur.worker.batch import batch_steps
from spur_schemas.events import Action, Consent, Event, FormSubmission, WebRequest
from spur_schemas.rejections import Rejection
from spur_schemas.validate import REASONS, TimeLimits, check_times, validate
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Store
from spur_streams.batch import Message, split
from tests.schemas.test_validate import with_

ARRIVAL = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
SKEW = dt.timedelta(minutes=5)
YEAR = dt.timedelta(days=365)
LIMITS = TimeLimits(clock_skew=SKEW, retention=YEAR)
MS = dt.timedelta(milliseconds=1)


def rfc3339(at: dt.datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def action_at(started: dt.datetime, ended: dt.datetime | None = None) -> bytes:
    return with_(started_at=rfc3339(started), ended_at=rfc3339(ended or started))


def verdict(raw: bytes, kind: type[Event] = Action, limits: TimeLimits = LIMITS) -> str:
    result = validate(raw, kind, ARRIVAL, limits)
    return result.reason if isinstance(result, Rejection) else "accepted"


def test_both_reasons_are_stable_codes() -> None:
    assert {"future_timestamp", "beyond_retention"} <= set(REASONS)


def test_a_future_dated_action_is_rejected_naming_the_field() -> None:
    rejection = validate(action_at(ARRIVAL + dt.timedelta(days=365)), Action, ARRIVAL, LIMITS)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == "future_timestamp"
    assert rejection.field == "started_at"
    assert "started_at" in rejection.detail
    assert "300 s" in rejection.detail


def test_exactly_at_the_skew_limit_is_accepted_one_ms_past_is_not() -> None:
    assert verdict(action_at(ARRIVAL + SKEW)) == "accepted"
    assert verdict(action_at(ARRIVAL + SKEW + MS)) == "future_timestamp"


def test_an_action_that_ends_in_the_future_is_rejected_on_ended_at() -> None:
    rejection = validate(action_at(ARRIVAL, ARRIVAL + SKEW + MS), Action, ARRIVAL, LIMITS)
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.field) == ("future_timestamp", "ended_at")


@pytest.mark.parametrize(
    "when",
    [
        "2150-01-01T00:00:00Z",  # past ClickHouse's DateTime (2106): the TTL overflows
        "9999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59-01:00",  # year 10000 in UTC: Python cannot even convert it
    ],
)
def test_far_future_years_are_future_timestamps(when: str) -> None:
    raw = with_(started_at=when, ended_at=when)
    assert verdict(raw) == "future_timestamp"


def test_an_action_older_than_retention_is_rejected() -> None:
    assert verdict(action_at(ARRIVAL - dt.timedelta(days=400))) == "beyond_retention"
    assert verdict(action_at(ARRIVAL - YEAR)) == "accepted"
    rejection = validate(action_at(ARRIVAL - YEAR - MS), Action, ARRIVAL, LIMITS)
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.field) == ("beyond_retention", "started_at")
    assert "365 days" in rejection.detail


def test_an_action_whose_hour_is_beyond_retention_is_rejected() -> None:
    """Its usage hour expires with the same retention (TTL hour + days): accepted, it
    would be stored but never billed (the hour already deleted on arrival)."""
    arrival = ARRIVAL + dt.timedelta(minutes=30)  # the bound falls mid-hour
    in_the_expired_hour = arrival - YEAR + dt.timedelta(minutes=2)
    rejection = validate(action_at(in_the_expired_hour), Action, arrival, LIMITS)
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.field) == ("beyond_retention", "started_at")
    assert "usage window" in rejection.detail
    next_hour = arrival - YEAR + dt.timedelta(minutes=30)  # on the hour after the bound
    assert not isinstance(validate(action_at(next_hour), Action, arrival, LIMITS), Rejection)
    # In another zone the hour is the UTC one: +05:45 puts 12:02 UTC at 17:47 local.
    local = with_(
        started_at=in_the_expired_hour.astimezone(
            dt.timezone(dt.timedelta(hours=5, minutes=45))
        ).isoformat(),
        ended_at=rfc3339(in_the_expired_hour),
    )
    assert getattr(validate(local, Action, arrival, LIMITS), "reason", None) == "beyond_retention"
    # Other events' tables count from their own time (no hourly window).
    web_limits = TimeLimits(clock_skew=SKEW, retention=THREE_MONTHS)
    recent_enough = web(arrival - THREE_MONTHS + dt.timedelta(minutes=2))
    assert not isinstance(validate(recent_enough, WebRequest, arrival, web_limits), Rejection)


def test_the_year_one_is_beyond_retention() -> None:
    raw = with_(started_at="0001-01-01T00:00:00+01:00", ended_at="0001-01-01T00:00:00+01:00")
    assert verdict(raw) == "beyond_retention"


def web(ts: dt.datetime) -> bytes:
    event = WebRequest(
        request_id=uuid.uuid4(), ts=ts, path="/", bytes_sent=1, user_agent="ua", client_ip="::1"
    )
    return msgspec.json.encode(event)


def form(ts: dt.datetime) -> bytes:
    event = FormSubmission(
        submission_id=uuid.uuid4(), ts=ts, form="signup", client_ip="::1",
        user_agent="ua", screen_resolution="800x600",
    )  # fmt: skip
    return msgspec.json.encode(event)


def consent(ts: dt.datetime) -> bytes:
    event = Consent(
        consent_id=uuid.uuid4(), ts=ts, customer_id=7, login="ann",
        purpose="extended_processing", granted=True, source="t",
    )  # fmt: skip
    return msgspec.json.encode(event)


THREE_MONTHS = dt.timedelta(days=92)


@pytest.mark.parametrize(
    ("kind", "make", "retention"),
    [(WebRequest, web, THREE_MONTHS), (FormSubmission, form, THREE_MONTHS)],
)
def test_web_requests_and_forms_are_guarded_on_ts(
    kind: type[Event], make: Any, retention: dt.timedelta
) -> None:
    limits = TimeLimits(clock_skew=SKEW, retention=retention)
    assert verdict(make(ARRIVAL), kind, limits) == "accepted"
    assert verdict(make(ARRIVAL + SKEW), kind, limits) == "accepted"
    assert verdict(make(ARRIVAL + SKEW + MS), kind, limits) == "future_timestamp"
    assert verdict(make(ARRIVAL - retention), kind, limits) == "accepted"
    assert verdict(make(ARRIVAL - retention - MS), kind, limits) == "beyond_retention"


def test_consent_is_guarded_against_the_future_only() -> None:
    limits = TimeLimits(clock_skew=SKEW, retention=None)
    # The ledger keeps every decision: a revocation from years ago still counts.
    assert verdict(consent(ARRIVAL - dt.timedelta(days=3000)), Consent, limits) == "accepted"
    # A grant from the future would stand as the latest decision for years.
    assert verdict(consent(ARRIVAL + SKEW + MS), Consent, limits) == "future_timestamp"


def test_check_times_accepts_an_ordinary_event() -> None:
    action = msgspec.json.decode(with_(), type=Action)
    assert check_times(action, action.ended_at, LIMITS) is None


def test_settings_give_each_event_type_its_tables_retention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = Settings()
    assert defaults.time_limits(Action) == TimeLimits(dt.timedelta(seconds=300), YEAR)
    assert defaults.time_limits(WebRequest).retention == THREE_MONTHS
    assert defaults.time_limits(FormSubmission).retention == THREE_MONTHS
    assert defaults.time_limits(Consent).retention is None
    monkeypatch.setenv("SPUR_ALLOWED_CLOCK_SKEW_SECONDS", "30")
    monkeypatch.setenv("SPUR_FORMS_RETENTION_DAYS", "10")
    settings = load_settings()
    assert settings.time_limits(FormSubmission) == TimeLimits(
        dt.timedelta(seconds=30), dt.timedelta(days=10)
    )


def test_split_dead_letters_bad_clocks_and_keeps_the_rest() -> None:
    messages = [
        Message("spur.actions.v1", 0, 0, with_(started_at="9999-01-01T00:00:00Z")),
        Message("spur.actions.v1", 0, 1, action_at(ARRIVAL - dt.timedelta(hours=1))),
        Message("spur.actions.v1", 0, 2, action_at(ARRIVAL - dt.timedelta(days=366))),
    ]
    result = split(messages, Action, ARRIVAL, LIMITS)
    assert [item.offset for item in result.accepted] == [1]
    assert [(r.offset, r.reason) for r in result.rejected] == [
        (0, "future_timestamp"),
        (2, "beyond_retention"),
    ]


def test_a_future_dated_action_first_on_its_partition_changes_nothing_else(
    store: Store,
) -> None:
    apply_migrations(store, Settings().retention.tables)
    actions = simulate_actions(WorkloadShape(customers=2, sessions_per_customer=3))
    now = max(a.ended_at for a in actions) + dt.timedelta(hours=1)
    ahead = msgspec.structs.replace(
        actions[0],
        action_id=uuid.uuid4(),
        started_at=now + dt.timedelta(days=300),
        ended_at=now + dt.timedelta(days=300),
    )
    encoded = [msgspec.json.encode(a) for a in (ahead, *actions)]
    pipeline = batch_steps(store, Settings())
    outcome = pipeline.process_actions(
        [Message("spur.actions.v1", 0, n, raw) for n, raw in enumerate(encoded)], now
    )
    assert [(d.offset, d.reason) for d in outcome.dead_letters] == [(0, "future_timestamp")]
    billed = {u.customer_id: u.actions for u in billing(store, "2026-11")}
    expected: dict[int, int] = {}
    for action in actions:
        expected[action.customer_id] = expected.get(action.customer_id, 0) + 1
    assert billed == expected
    stored = store.query(f"SELECT count() AS n FROM {store.database}.actions")
    assert int(stored[0]["n"]) == len(actions)


class FakePublisher:
    """Stands in for spur.client.Publisher: records what would be published."""

    published: list[bytes]

    def __init__(self, _bootstrap: object) -> None:
        FakePublisher.published = []

    async def __aenter__(self) -> FakePublisher:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def publish_raw(self, _topic: str, value: bytes, key: bytes | None = None) -> None:
        FakePublisher.published.append(value)


async def test_produce_reports_future_lines_and_does_not_publish_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    import spur.produce

    monkeypatch.setattr(spur.produce, "Publisher", FakePublisher)
    now = dt.datetime.now(dt.UTC)
    lines = [
        action_at(now - dt.timedelta(minutes=1)),
        action_at(now + dt.timedelta(hours=2)),
        with_(started_at="9999-12-31T00:00:00Z", ended_at="9999-12-31T00:00:00Z"),
        action_at(now - dt.timedelta(days=400)),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = await spur.produce.produce_file(
        KafkaTarget("unused:9092"),
        path,
        "spur.actions.v1",
        Console(quiet=True),
        Settings().time_limits,
    )
    assert report.published == 1
    assert FakePublisher.published == [lines[0]]
    assert [(n, r.reason) for n, r in report.rejected] == [
        (2, "future_timestamp"),
        (3, "future_timestamp"),
        (4, "beyond_retention"),
    ]
