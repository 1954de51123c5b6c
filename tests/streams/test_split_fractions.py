"""A batch searched once for long fractions cuts them exactly as each message alone would."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from spur_schemas.events import Action
from spur_schemas.topics import Topic
from spur_schemas.validate import TimeLimits, validate
from spur_schemas.validator import any_long_fraction
from spur_streams.steps.validate import split
from tests.streams.helpers import NOW, action, at, messages

LIMITS = TimeLimits(clock_skew=dt.timedelta(minutes=5), retention=dt.timedelta(days=365))
LONG = at(hours_ago=1)[:19] + ".9999999999+00:00"  # rounded, it would be the next second


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2499), st.sampled_from(["started_at", "ended_at"]))
def test_a_long_fraction_anywhere_in_a_batch_is_cut(position: int, field: str) -> None:
    documents = [action() for _ in range(2500)]
    documents[position] = action(started_at=LONG, ended_at=LONG)
    batch = messages(Topic.ACTIONS, documents)
    valid = split(batch, Action, NOW, LIMITS).accepted
    expected = [validate(m.value, Action, NOW, LIMITS) for m in batch]
    assert [item.event for item in valid] == expected
    assert getattr(valid[position].event, field).microsecond == 999999


def test_only_a_message_itself_holds_a_long_fraction() -> None:
    assert any_long_fraction([b'{"a":"1.1234567"}'])
    assert not any_long_fraction([b'{"a":"1.123456"}', b"1234567"])
    assert not any_long_fraction([b'{"a":"1.', b"1234567"])  # two messages' halves
    assert any_long_fraction([b"{}", None])  # type: ignore[list-item]  # no bytes: searched alone
    assert not any_long_fraction([])
