import base64
import datetime as dt

import msgspec

from schemas.events import Action
from schemas.validate import TimeLimits
from streams.batch import Message, split
from tests.unit.test_validate import with_

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)  # after the test action ended
LIMITS = TimeLimits(clock_skew=dt.timedelta(minutes=5), retention=dt.timedelta(days=365))


def test_unknown_field_values_never_reach_a_dead_letter() -> None:
    raw = with_(document_title="Q3 salaries", profile={"locale": "de", "diagnosis": "flu"})
    result = split([Message("spur.actions.v1", 3, 17, raw)], Action, NOW, LIMITS)
    assert result.accepted == []
    (letter,) = result.rejected
    stored = base64.b64decode(letter.original_b64)
    assert b"Q3 salaries" not in stored
    assert b"flu" not in stored
    document = msgspec.json.decode(stored)
    assert document["document_title"] == "[redacted]"
    assert document["profile"] == {"locale": "de", "diagnosis": "[redacted]"}
    assert document["login"] == "ann@example.com"  # known fields stay for debugging
    assert (letter.topic, letter.partition, letter.offset) == ("spur.actions.v1", 3, 17)
    assert letter.reason == "unknown_field"


def test_valid_and_invalid_messages_are_split_with_their_offsets() -> None:
    messages = [
        Message("spur.actions.v1", 0, 5, with_()),
        Message("spur.actions.v1", 0, 6, b"\xff\xfe"),
        Message("spur.actions.v1", 1, 9, with_(bytes_in=-5)),
    ]
    result = split(messages, Action, NOW, LIMITS)
    assert [(a.partition, a.offset) for a in result.accepted] == [(0, 5)]
    assert [(r.offset, r.reason) for r in result.rejected] == [(6, "not_json"), (9, "out_of_range")]
    assert base64.b64decode(result.rejected[0].original_b64) == b"\xff\xfe"


def test_oversized_originals_are_truncated_not_dropped() -> None:
    raw = b"x" * 100_000
    (letter,) = split([Message("t", 0, 0, raw)], Action, NOW, LIMITS).rejected
    assert letter.reason == "too_large"
    assert letter.original_truncated
    assert len(base64.b64decode(letter.original_b64)) == 64 * 1024
