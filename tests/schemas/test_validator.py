"""A batch's Validator answers exactly as validate() does, message by message.

Its shortcut (times well inside the limits skip the detailed check) must
never accept what validate() rejects, nor word a rejection differently: the
times here are drawn around every bound (exactly at it, a microsecond on
either side, far off), with offsets other than UTC, for every event kind
and for the consent ledger's unbounded retention.
"""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from spur_schemas.events import Action, Consent, Event, FormSubmission, WebRequest
from spur_schemas.validate import TimeLimits, validate
from spur_schemas.validator import Validator
from tests.schemas.test_decode_property import JSON_VALUES, KINDS
from tests.schemas.test_validate import GOOD

ARRIVAL = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
SKEW = dt.timedelta(minutes=5)
RETENTION = dt.timedelta(days=365)
LIMITS = st.sampled_from([TimeLimits(SKEW, RETENTION), TimeLimits(SKEW, None)])

_US = dt.timedelta(microseconds=1)
_HOUR = dt.timedelta(hours=1)
# On the hour, and mid-hour (an action's hour then straddles the retention bound).
ARRIVALS = st.sampled_from([ARRIVAL, ARRIVAL + dt.timedelta(minutes=30, microseconds=500)])
# Times relative to the arrival: at, just inside and just outside each bound
# (the retention bound's hour too), and well within or past them.
SHIFTS = st.sampled_from(
    [
        SKEW, SKEW + _US, SKEW - _US,
        -RETENTION, -RETENTION - _US, -RETENTION + _US,
        -RETENTION + dt.timedelta(minutes=2), -RETENTION + _HOUR - _US, -RETENTION + _HOUR,
        dt.timedelta(0), -_HOUR, dt.timedelta(days=3), dt.timedelta(days=-400),
    ]
) | st.timedeltas(min_value=dt.timedelta(days=-800), max_value=dt.timedelta(days=800))  # fmt: skip
OFFSETS = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=-8)), dt.timezone(dt.timedelta(hours=5, minutes=30))]
)


def text(at: dt.datetime, zone: dt.tzinfo) -> str:
    return at.astimezone(zone).isoformat()


def an_event(kind: type[Event], times: list[str]) -> bytes:
    """A valid event of ``kind`` but for its times (the first one or two of ``times``)."""
    if kind is Action:
        return json.dumps({**GOOD, "started_at": times[0], "ended_at": times[1]}).encode()
    common = {"ts": times[0], "client_ip": "10.0.0.1", "user_agent": "ua"}
    fields: dict[type[Event], dict[str, object]] = {
        WebRequest: {"request_id": GOOD["action_id"], "path": "/", "bytes_sent": 1, **common},
        FormSubmission: {
            "submission_id": GOOD["action_id"], "form": "signup", "screen_resolution": "1x1",
            **common,
        },
        Consent: {
            "consent_id": GOOD["action_id"], "ts": times[0], "customer_id": 1, "login": "a",
            "purpose": "extended_processing", "granted": True, "source": "web",
        },
    }  # fmt: skip
    return json.dumps(fields[kind]).encode()


def assert_same(
    raw: bytes, kind: type[Event], limits: TimeLimits, arrival: dt.datetime = ARRIVAL
) -> None:
    assert Validator(kind, arrival, limits)(raw) == validate(raw, kind, arrival, limits)


@given(
    kind=KINDS,
    arrival=ARRIVALS,
    times=st.lists(st.tuples(SHIFTS, OFFSETS), min_size=2, max_size=2),
    limits=LIMITS,
)
@settings(max_examples=800)
def test_times_around_every_bound(
    kind: type[Event],
    arrival: dt.datetime,
    times: list[tuple[dt.timedelta, dt.tzinfo]],
    limits: TimeLimits,
) -> None:
    texts = [text(arrival + shift, zone) for shift, zone in times]
    assert_same(an_event(kind, texts), kind, limits, arrival)


@given(raw=st.binary(max_size=512), kind=KINDS, limits=LIMITS)
@settings(max_examples=300)
def test_arbitrary_bytes(raw: bytes, kind: type[Event], limits: TimeLimits) -> None:
    assert_same(raw, kind, limits)


@given(field=st.sampled_from(sorted(GOOD)), value=JSON_VALUES, limits=LIMITS)
@settings(max_examples=300)
def test_an_action_with_one_field_replaced(field: str, value: object, limits: TimeLimits) -> None:
    assert_same(json.dumps({**GOOD, field: value}).encode(), Action, limits)


def test_the_bounds_are_the_documented_ones() -> None:
    """Not vacuous: each bound's neighbours fall on different sides of it."""
    limits = TimeLimits(SKEW, RETENTION)
    late = Validator(Action, ARRIVAL, limits)(
        an_event(Action, [text(ARRIVAL, dt.UTC), text(ARRIVAL + SKEW + _US, dt.UTC)])
    )
    at_skew = Validator(Action, ARRIVAL, limits)(
        an_event(Action, [text(ARRIVAL, dt.UTC), text(ARRIVAL + SKEW, dt.UTC)])
    )
    old = Validator(Action, ARRIVAL, limits)(
        an_event(Action, [text(ARRIVAL - RETENTION - _US, dt.UTC), text(ARRIVAL, dt.UTC)])
    )
    assert getattr(late, "reason", None) == "future_timestamp"
    assert isinstance(at_skew, Action)
    assert getattr(old, "reason", None) == "beyond_retention"
