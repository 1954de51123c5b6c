import base64
import datetime as dt
from typing import Any

import msgspec
import pytest

from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.validate import REASONS, TimeLimits
from spur_streams.batch import Message, split
from spur_streams.deadletter import UNPARSEABLE, WITHHELD, DeadLetter, redact
from tests.schemas.test_validate import with_

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
    # Bytes that cannot be redacted field by field are never stored as they came.
    assert base64.b64decode(result.rejected[0].original_b64) == UNPARSEABLE


def test_oversized_originals_are_redacted_then_truncated_not_dropped() -> None:
    names = {f"field_{i:06}": "SECRET" for i in range(10_000)}
    raw = msgspec.json.encode(names)
    assert len(raw) > 64 * 1024
    (letter,) = split([Message("t", 0, 0, raw)], Action, NOW, LIMITS).rejected
    assert letter.reason == "too_large"
    assert letter.original_truncated
    stored = base64.b64decode(letter.original_b64)
    assert len(stored) == 64 * 1024
    assert b"SECRET" not in stored
    assert stored.startswith(b'{"field_000000":"[redacted]"')


def test_unparseable_oversized_originals_are_replaced_whole() -> None:
    (letter,) = split([Message("t", 0, 0, b"x" * 100_000)], Action, NOW, LIMITS).rejected
    assert letter.reason == "too_large"
    assert not letter.original_truncated
    assert base64.b64decode(letter.original_b64) == UNPARSEABLE


def _letter(raw: bytes, kind: type[Any] = Action) -> tuple[DeadLetter, bytes]:
    (letter,) = split([Message("t", 0, 0, raw)], kind, NOW, LIMITS).rejected
    return letter, base64.b64decode(letter.original_b64)


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"profile": {"locale": {"x": "SECRET NESTED"}}}, "bad_type", "profile.locale"),
        ({"profile": {"locale": ["SECRET NESTED"]}}, "bad_type", "profile.locale"),
        ({"profile": {"role": "SECRET NESTED" * 10}}, "out_of_range", "profile.role"),
        ({"profile": "SECRET NESTED"}, "bad_type", "profile"),
        ({"login": "SECRET NESTED " * 1000}, "out_of_range", "login"),
        ({"action": {"document": "SECRET NESTED"}}, "bad_type", "action"),
        ({"session_id": ["SECRET NESTED"]}, "bad_type", "session_id"),
        ({"bytes_in": "SECRET NESTED" * 10}, "bad_type", "bytes_in"),
        ({"started_at": "SECRET NESTED" * 10}, "bad_timestamp", "started_at"),
        ({"status": "SECRET NESTED"}, "bad_type", "status"),
        ({"data_count": int("9" * 400)}, "out_of_range", "data_count"),
    ],
)
def test_known_fields_with_content_are_redacted(
    changes: dict[str, object], reason: str, field: str
) -> None:
    letter, stored = _letter(with_(**changes))
    assert (letter.reason, letter.field) == (reason, field)
    assert b"SECRET" not in stored
    assert b"9" * 30 not in stored
    assert "SECRET" not in letter.detail
    document = msgspec.json.decode(stored)
    top = next(iter(changes))
    assert set(document) == set(msgspec.json.decode(with_(**changes)))  # names stay
    assert "[redacted]" in msgspec.json.encode(document[top]).decode()
    # What an operator debugs with stays.
    assert document["login" if top != "login" else "session_id"] in ("ann@example.com", "s-1")
    assert document["action_id"] == "6f1b1b9e-2c7e-4a53-9a5e-2b8c1c1f0e11"
    assert document["started_at" if top != "started_at" else "ended_at"].startswith("2026-11-24")


def test_fitting_scalars_stay_in_a_known_field_with_the_wrong_value() -> None:
    letter, stored = _letter(with_(bytes_in=-5, profile={"locale": {"x": 1}, "role": "admin"}))
    assert letter.reason == "out_of_range"
    document = msgspec.json.decode(stored)
    assert document["bytes_in"] == -5
    assert document["profile"] == {"locale": "[redacted]", "role": "admin"}


def test_redact_keeps_a_valid_event_as_it_is_but_for_its_address_network() -> None:
    raw = with_(profile={"locale": "de", "timezone": "Europe/Berlin"}, data_kind="rows")
    expected = {**msgspec.json.decode(raw), "client_ip": "2001:db8::"}  # 2001:db8::7 cut to /48
    assert msgspec.json.decode(redact(raw, Action)) == expected


def test_a_letter_keeps_no_more_of_an_address_or_a_path_than_the_stored_events() -> None:
    """Found from outside: letters kept whole addresses and query strings, readable by ops."""
    web = {
        **_valid(WebRequest),
        "path": "/password-reset?token=S3CRET&email=bob@example.com#frag",
        "client_ip": "198.51.100.123",
        "status": 700,
    }
    _, stored = _letter(msgspec.json.encode(web), WebRequest)
    document = msgspec.json.decode(stored)
    assert (document["path"], document["client_ip"]) == ("/password-reset", "198.51.100.0")
    form = {**_valid(FormSubmission), "client_ip": "2002:cb00:714d::1", "screen_resolution": "x"}
    _, stored = _letter(msgspec.json.encode(form), FormSubmission)
    assert msgspec.json.decode(stored)["client_ip"] == "2002:cb00:7100::"  # 6to4: its IPv4 /24
    _, stored = _letter(with_(client_ip="not an address", bytes_in=-1))
    assert msgspec.json.decode(stored)["client_ip"] == "[redacted]"


def test_a_key_that_is_content_is_not_named_in_a_letter() -> None:
    """Found from outside: form content and logins arrived as keys, and were kept."""
    content = "message: Hi, I am John Smith, card 4111 1111 1111 1111"
    raw = msgspec.json.encode({**_valid(FormSubmission), content: 1, "victim@example.com": 2})
    letter, stored = _letter(raw, FormSubmission)
    assert (letter.reason, letter.field) == ("unknown_field", "[unknown field]")
    for kept in (letter.detail, stored.decode()):
        assert "John" not in kept
        assert "victim" not in kept
    document = msgspec.json.decode(stored)
    assert sorted(k for k in document if k.startswith("[unknown")) == [
        "[unknown field] 7",
        "[unknown field] 8",
    ]
    letter, _ = _letter(with_(document_title="x"))
    assert letter.field == "document_title"  # a field's name is still named


def test_an_event_past_its_retention_is_not_kept_in_its_letter() -> None:
    """Found from outside: a web log line 100 days old stayed 14 days more as a letter."""
    old = {**_valid(WebRequest), "ts": (NOW - dt.timedelta(days=100)).isoformat()}
    limits = TimeLimits(clock_skew=dt.timedelta(minutes=5), retention=dt.timedelta(days=92))
    (letter,) = split(
        [Message("t", 0, 0, msgspec.json.encode(old))], WebRequest, NOW, limits
    ).rejected
    assert letter.reason == "beyond_retention"
    assert base64.b64decode(letter.original_b64) == WITHHELD


def _valid(kind: type[Any]) -> dict[str, object]:
    common = {"ts": "2026-11-24T10:15:30Z", "client_ip": "192.0.2.1", "user_agent": "ua"}
    documents: dict[type[Any], dict[str, object]] = {
        Action: msgspec.json.decode(with_(), type=dict[str, object]),
        WebRequest: {**common, "request_id": _ID, "path": "/p", "bytes_sent": 1},
        FormSubmission: {
            **common,
            "submission_id": _ID,
            "form": "signup",
            "screen_resolution": "1x1",
        },
        Consent: {
            "consent_id": _ID,
            "ts": "2026-11-24T10:15:30Z",
            "customer_id": 42,
            "login": "ann@example.com",
            "purpose": "extended_processing",
            "granted": True,
            "source": "checkbox:signup",
        },
    }
    return documents[kind]


_ID = "6f1b1b9e-2c7e-4a53-9a5e-2b8c1c1f0e11"
_DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000
_DEEP_ARRAY = b"[" * 1000 + b"]" * 1000


def _bad_messages(kind: type[Any]) -> list[bytes]:
    valid = msgspec.json.encode(_valid(kind))
    first = next(iter(_valid(kind)))
    inner = valid[1:-1]
    return [
        _DEEP_OBJECT,
        _DEEP_ARRAY,
        b"[" * 100_000 + b"]" * 100_000,
        b"[" * 50_000,
        b'{"a":' * 20_000,
        b'{"unknown":[{"x":"SECRET"},' + _DEEP_ARRAY + b"]}",
        b"{" + inner + b',"profile":' + _DEEP_OBJECT + b"}",
        b"{" + inner + b',"login":' + _DEEP_ARRAY + b"}",
        b'{"' + first.encode() + b'":' + _DEEP_ARRAY + b"," + inner + b"}",
        b"{" + inner + b',"bytes_in":' + b"9" * 5000 + b"}",
        b"{" + inner + b',"x":' + b"9" * 5000 + b"}",
        b"{" + inner + b',"x":1e99999}',
        b"9" * 5000,
        b"{" + inner + b',"login":"SECRET\xff\xfe"}',
        b'{"name\xff":"SECRET",' + inner + b"}",
        b"\xff\xfe\x00SECRET",
        b"{" + inner + b',"login":"SECRET\\u0000\x00"}',
        b"\x00" * 100,
        b"{" + inner + b',"login":"\\ud800SECRET"}',
        b'{"\\udfffname":"SECRET",' + inner + b"}",
        b"{" + inner + b',"' + first.encode() + b'":"' + b"SECRET" * 20 + b'"}',  # duplicate
        b"{" + inner + b"," + inner + b',"zz":"SECRET"}',  # every key twice
        b'"SECRET"',
        b"null",
        b"",
    ]


@pytest.mark.parametrize("kind", [Action, WebRequest, FormSubmission, Consent])
def test_hostile_messages_become_one_dead_letter_each(kind: type[Any]) -> None:
    bad = _bad_messages(kind)
    messages = [Message("t", 0, i, raw) for i, raw in enumerate(bad)]
    messages.append(Message("t", 0, len(bad), msgspec.json.encode(_valid(kind))))
    result = split(messages, kind, NOW, LIMITS)
    assert [a.offset for a in result.accepted] == [len(bad)]
    assert [letter.offset for letter in result.rejected] == list(range(len(bad)))
    for letter in result.rejected:
        stored = base64.b64decode(letter.original_b64)
        assert b"SECRET" not in stored, (letter.offset, letter.reason)
        assert b"9" * 30 not in stored
        assert b"SECRET" not in letter.detail.encode()
        assert letter.reason in REASONS
        assert not letter.detail.startswith("could not be decoded")  # validation is total


def test_deep_nesting_is_dead_lettered_with_the_validation_verdict() -> None:
    letter, stored = _letter(_DEEP_OBJECT)
    assert (letter.reason, letter.field) == ("unknown_field", "a")
    assert stored == UNPARSEABLE
    letter, stored = _letter(_DEEP_ARRAY, WebRequest)
    assert letter.reason == "not_object"
    assert stored == UNPARSEABLE


def test_a_failing_redaction_still_yields_a_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: bytes, kind: type[Any]) -> bytes:
        raise RuntimeError("bug")

    monkeypatch.setattr("spur_streams.deadletter.redact", broken)
    letter, stored = _letter(with_(login=["SECRET"]))
    assert letter.reason == "bad_type"
    assert stored == UNPARSEABLE


def test_a_failing_validation_still_yields_a_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RecursionError("bug")

    monkeypatch.setattr("spur_schemas.validator.decode_struct", broken)
    letter, stored = _letter(with_(login="SECRET"))
    assert (letter.reason, letter.detail) == ("not_json", "could not be decoded: RecursionError")
    assert stored == UNPARSEABLE
