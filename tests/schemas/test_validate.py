"""Each reason code of docs/events.md that decoding can produce, on an action."""

import msgspec
import pytest

from spur_schemas.events import Action, FormSubmission
from spur_schemas.rejections import Rejection
from spur_schemas.validate import REASONS, decode, encode

GOOD = {
    "action_id": "6f1b1b9e-2c7e-4a53-9a5e-2b8c1c1f0e11",
    "action": "document.export",
    "customer_id": 42,
    "login": "ann@example.com",
    "session_id": "s-1",
    "started_at": "2026-11-24T10:15:30.123Z",
    "ended_at": "2026-11-24T10:15:31Z",
    "bytes_in": 100,
    "bytes_out": 2000,
    "client_ip": "2001:db8::7",
}


def with_(**changes: object) -> bytes:
    document = {**GOOD, **changes}
    return msgspec.json.encode({k: v for k, v in document.items() if v is not None})


def test_a_valid_action_round_trips() -> None:
    action = decode(with_(), Action)
    assert isinstance(action, Action)
    assert decode(encode(action), Action) == action


@pytest.mark.parametrize(
    ("raw", "reason", "field"),
    [
        (b"{nope", "not_json", None),
        (b"[1]", "not_object", None),
        (with_(document_title="Q3 salaries"), "unknown_field", "document_title"),
        (with_(profile={"locale": "de", "name": "Ann"}), "unknown_field", "profile.name"),
        (with_(login=None), "missing_field", "login"),
        (with_(bytes_in="100"), "bad_type", "bytes_in"),
        (with_(customer_id=True), "bad_type", "customer_id"),
        (with_(client_ip="10.0.0.300"), "bad_type", "client_ip"),
        (with_(client_ip="0\x00"), "bad_type", "client_ip"),  # found by hypothesis
        (with_(action="Document Export"), "bad_type", "action"),
        (with_(customer_id=0), "out_of_range", "customer_id"),
        (with_(customer_id=2**32), "out_of_range", "customer_id"),
        (with_(bytes_out=-1), "out_of_range", "bytes_out"),
        (with_(login="x" * 129), "out_of_range", "login"),
        (with_(started_at="yesterday"), "bad_timestamp", "started_at"),
        (with_(started_at="2026-11-24T10:15:30"), "bad_timestamp", "started_at"),
        (with_(ended_at="2026-11-24T10:15:29Z"), "ended_before_started", "ended_at"),
        (with_(server="x" * 70_000), "too_large", None),
        (with_(login="ann").replace(b"ann", b"a\xffn"), "not_json", None),  # found by fuzzing
    ],
)
def test_rejections_carry_a_reason_and_the_field(
    raw: bytes, reason: str, field: str | None
) -> None:
    rejection = decode(raw, Action)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == reason
    assert rejection.reason in REASONS
    assert rejection.field == field
    if field:
        assert field in rejection.detail


def test_an_offset_other_than_utc_is_accepted() -> None:
    action = decode(with_(started_at="2026-11-24T11:15:30+01:00"), Action)
    assert isinstance(action, Action)
    assert action.started_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("2026-11-30T23:59:59.9999995Z", "2026-11-30T23:59:59.999999+00:00"),
        ("2026-11-30T23:59:59.999999999Z", "2026-11-30T23:59:59.999999+00:00"),
        ("2026-11-30T23:59:59.999999999999999999Z", "2026-11-30T23:59:59.999999+00:00"),
        ("2026-11-30T22:59:59.9999999-01:00", "2026-11-30T22:59:59.999999-01:00"),
        ("2026-11-24T10:15:30.1239996Z", "2026-11-24T10:15:30.123999+00:00"),
        ("2026-11-24T10:15:30.123Z", "2026-11-24T10:15:30.123000+00:00"),
        # Found from outside: RFC 3339's other separators, and escaped characters,
        # were rounded into the next month.
        ("2026-11-30t23:59:59.9999999Z", "2026-11-30T23:59:59.999999+00:00"),
        ("2026-11-30 23:59:59.9999999Z", "2026-11-30T23:59:59.999999+00:00"),
        ("2026-11-30T23:59:59.999999\\u0039Z", "2026-11-30T23:59:59.999999+00:00"),
        ("2026-11-30\\u005423:59:59.9999999Z", "2026-11-30T23:59:59.999999+00:00"),
        ("2026-11-30T23:59:59\\u002e9999999Z", "2026-11-30T23:59:59.999999+00:00"),
    ],
)
def test_fraction_digits_beyond_microseconds_are_cut_never_rounded(sent: str, kept: str) -> None:
    # Rounded, .9999995 at a month's last second started the next month.
    session = "s-2026-11-30T23:59:59.9999995"  # text like a time elsewhere stays as sent
    raw = with_(started_at="STARTED", ended_at="ENDED", session_id=session)
    # ``sent`` as a producer wrote it: a "\\u0039" stays an escape in the JSON text.
    raw = raw.replace(b"STARTED", sent.encode()).replace(b"ENDED", sent.encode())
    action = decode(raw, Action)
    assert isinstance(action, Action)
    assert (action.started_at.isoformat(), action.ended_at.isoformat()) == (kept, kept)
    assert action.session_id == session


@pytest.mark.parametrize("field", ["action_id", "started_at", "action"])
def test_bytes_that_are_no_utf8_inside_a_value_are_not_json(field: str) -> None:
    raw = msgspec.json.encode(GOOD).replace(msgspec.json.encode(GOOD[field]), b'"\xff\xfe"', 1)
    rejected = decode(raw, Action)
    assert isinstance(rejected, Rejection)
    assert rejected.reason == "not_json"
    assert rejected.detail.startswith("not UTF-8: invalid start byte at byte")


def test_the_nil_uuid_is_no_id_of_an_event() -> None:
    # The store writes it for "no parent": as an action's own id it read as none.
    nil = "00000000-0000-0000-0000-000000000000"
    rejected = decode(with_(action_id=nil), Action)
    assert isinstance(rejected, Rejection)
    assert (rejected.reason, rejected.field) == ("bad_type", "action_id")
    assert isinstance(decode(with_(parent_action_id=nil), Action), Action)


SUBMISSION = {
    "submission_id": GOOD["action_id"],
    "ts": GOOD["started_at"],
    "form": "signup",
    "client_ip": "192.0.2.1",
    "user_agent": "ua",
}


@pytest.mark.parametrize("resolution", ["1920x1080\n", "1920x1080\n\n", "\n1920x1080", "x1080"])
def test_a_screen_resolution_is_the_whole_value_as_the_published_schema_says(
    resolution: str,
) -> None:
    """Python's ``$`` matched "1920x1080\\n"; the schema's (ECMA's) does not."""
    submission = SUBMISSION
    accepted = decode(
        msgspec.json.encode({**submission, "screen_resolution": "1920x1080"}), FormSubmission
    )
    assert isinstance(accepted, FormSubmission)
    rejection = decode(
        msgspec.json.encode({**submission, "screen_resolution": resolution}), FormSubmission
    )
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.field) == ("bad_type", "screen_resolution")
    assert rejection.detail == (
        "screen_resolution: Expected `str` matching regex '^[0-9]{1,5}x[0-9]{1,5}$'"
    )  # the published pattern, not the one Python runs


def test_every_screen_resolution_given_is_checked_as_every_other_value_is() -> None:
    """Found from outside: checked after decoding, a bad first value given twice passed."""
    good = msgspec.json.encode({**SUBMISSION, "screen_resolution": "1920x1080"})
    for first in (b"ABC", b"1920x1080\\n"):
        twice = good.replace(b"{", b'{"screen_resolution":"' + first + b'",', 1)
        rejection = decode(twice, FormSubmission)
        assert isinstance(rejection, Rejection), twice
        assert rejection.field == "screen_resolution"
    customer_twice = msgspec.json.encode(GOOD).replace(b"{", b'{"customer_id":0,', 1)
    assert isinstance(decode(customer_twice, Action), Rejection)  # as for any other field
